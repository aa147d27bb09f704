"""The test-case table of a preset: add, edit, reorder, delete, import and
export; it follows the preset (fork, export/import, versions); outsiders 404."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.cases.models import Case
from apps.presets.models import Preset
from apps.presets.transfer import export_document, import_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def preset(owner, fake_model):
    return Preset.create(owner, "Capitals", "", "chat", fake_model, {
        "messages": [{"role": "user", "content": "Capital of {{country}}?"}],
    })


def values(preset):
    return [c.as_row() for c in preset.cases.all()]


def test_it_adds_edits_reorders_and_deletes_cases(client, owner, preset):
    client.force_login(owner)
    page = client.get(f"/evals/p/{preset.uuid}/")
    assert page.status_code == 200 and b"country" in page.content
    for country in ("France", "Peru"):
        client.post(f"/evals/p/{preset.uuid}/cases/add/", {"country": country, "expected": ""})
    first, second = preset.cases.all()
    client.post(f"/evals/p/{preset.uuid}/cases/{second.uuid}/",
                {"action": "save", "country": "Chile", "expected": "Santiago"})
    client.post(f"/evals/p/{preset.uuid}/cases/{second.uuid}/", {"action": "up"})
    assert values(preset) == [{"country": "Chile", "expected": "Santiago"}, {"country": "France"}]
    client.post(f"/evals/p/{preset.uuid}/cases/{first.uuid}/", {"action": "delete"})
    assert values(preset) == [{"country": "Chile", "expected": "Santiago"}]


def test_it_imports_csv_and_refuses_a_bad_file_whole(client, owner, preset):
    client.force_login(owner)
    good = SimpleUploadedFile("cases.csv", b"country,expected\nFrance,Paris\nPeru,Lima\n")
    client.post(f"/evals/p/{preset.uuid}/cases/import/", {"file": good})
    bad = SimpleUploadedFile("more.csv", b"country,expected\nItaly,Rome\nSpain\n")
    page = client.post(f"/evals/p/{preset.uuid}/cases/import/", {"file": bad})
    assert page.status_code == 400
    assert "line 3: 1 fields, the header has 2" in page.content.decode()
    assert values(preset) == [{"country": "France", "expected": "Paris"},
                              {"country": "Peru", "expected": "Lima"}]
    jsonl = client.get(f"/evals/p/{preset.uuid}/cases.jsonl")
    assert jsonl.content.decode().splitlines()[1] == '{"country": "Peru", "expected": "Lima"}'
    csv = client.get(f"/evals/p/{preset.uuid}/cases.csv")
    assert csv.content.decode() == "country,expected\nFrance,Paris\nPeru,Lima\n"


def test_it_keeps_cases_with_forks_exports_and_versions(owner, teammate, preset, fake_model):
    Case.append(preset, [{"country": "France", "expected": "Paris"}])
    fork = preset.fork(teammate)
    assert values(fork) == [{"country": "France", "expected": "Paris"}]
    document = json.loads(json.dumps(export_document([preset])))
    assert document["presets"][0]["cases"] == [{"country": "France", "expected": "Paris"}]
    (copy,) = import_document(teammate, document)
    assert values(copy) == [{"country": "France", "expected": "Paris"}]
    version = preset.add_version("Capitals", "", "chat", fake_model, preset.latest.body)
    assert version.case_snapshot.cases == [{"country": "France", "expected": "Paris"}]


def test_it_hides_cases_and_batches_from_outsiders(client, outsider, preset):
    Case.append(preset, [{"country": "France"}])
    case = preset.cases.get()
    client.force_login(outsider)
    for url in (f"/evals/p/{preset.uuid}/", f"/evals/p/{preset.uuid}/cases.csv"):
        assert client.get(url).status_code == 404
    assert client.post(f"/evals/p/{preset.uuid}/cases/{case.uuid}/",
                       {"action": "delete"}).status_code == 404
    assert client.post(f"/evals/p/{preset.uuid}/run/", {"models": []}).status_code == 404
    preset.share()  # a shared link lets others read and fork, not evaluate
    assert client.get(f"/evals/p/{preset.uuid}/").status_code == 404
    assert preset.cases.count() == 1
