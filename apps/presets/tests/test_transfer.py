"""Export and import: a round trip, and refused files that leave nothing behind."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.presets.models import Preset

pytestmark = pytest.mark.django_db


def upload(client, content, name="presets.json"):
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    f = io.BytesIO(data)
    f.name = name
    return client.post("/presets/import/", {"file": f})


def entry(fake_model, **changes):
    return {
        "name": "Imported", "description": "", "mode": "completions", "model": "Echo",
        "body": {"prompt": "Once upon", "temperature": 0.2}, **changes,
    }


def test_it_exports_and_imports_back(client, owner, teammate, preset, fake_model):
    Preset.create(owner, "Second", "", "completions", fake_model,
                  {"prompt": "x", "max_tokens": 5, "n": 2})
    client.force_login(owner)
    response = client.get("/presets/export/")
    assert response["Content-Disposition"] == 'attachment; filename="presets.json"'
    document = json.loads(response.content)
    assert document["format"] == "playground-presets"
    assert [p["name"] for p in document["presets"]] == ["Haiku writer", "Second"]
    assert document["presets"][0] == {
        "name": "Haiku writer", "description": "Short poems", "mode": "chat", "model": "Echo",
        "body": {"messages": [{"role": "user", "content": "Write a haiku"}], "temperature": 0.7},
    }

    client.force_login(teammate)
    response = upload(client, response.content)
    assert response.status_code == 302
    mine = Preset.objects.for_user(teammate).order_by("created")
    assert [p.as_export() for p in mine] == document["presets"]
    assert all(p.latest.model == fake_model for p in mine)


def test_it_exports_one_preset(client, owner, preset):
    client.force_login(owner)
    response = client.get(f"/presets/{preset.uuid}/export/")
    assert 'filename="preset-haiku-writer.json"' in response["Content-Disposition"]
    assert [p["name"] for p in json.loads(response.content)["presets"]] == ["Haiku writer"]


def test_it_resolves_the_model_by_upstream_id_too(client, owner, fake_model):
    client.force_login(owner)
    upload(client, {"presets": [entry(fake_model, model="echo-1")]})
    assert Preset.objects.get().latest.model == fake_model


@pytest.mark.parametrize("content,reason", [
    (b"{not json", "the file is not valid JSON"),
    (b"\xff\xfe", "the file is not UTF-8 text"),
    ({"something": "else"}, "the file must be a preset export"),
    ({"presets": []}, "the file holds no presets"),
])
def test_it_refuses_a_file_that_is_not_an_export(client, owner, content, reason):
    client.force_login(owner)
    response = upload(client, content)
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not Preset.objects.exists()


@pytest.mark.parametrize("changes,reason", [
    ({"body": {"prompt": "x", "max_tokens": -1}},
     'presets[1] (&quot;Imported&quot;): max_tokens must be at least 0'),
    ({"body": {"prompt": "x", "temperature": 5}},
     "presets[1] (&quot;Imported&quot;): temperature must be between 0 and 2"),
    ({"model": "gpt-imaginary"}, 'unknown model &quot;gpt-imaginary&quot;'),
    ({"mode": "images"}, "mode must be completions or chat"),
    ({"name": ""}, "presets[1]: name is required"),
    ({"extra": 1}, "extra is not a preset field"),
    ({"body": {"messages": []}, "mode": "chat"}, "messages must not be empty"),
])
def test_it_imports_nothing_when_one_preset_is_wrong(client, owner, fake_model, changes, reason):
    client.force_login(owner)
    good = entry(fake_model, name="Good")
    response = upload(client, {"format": "playground-presets", "version": 1,
                               "presets": [good, entry(fake_model, **changes)]})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was imported" in html
    assert reason in html
    assert not Preset.objects.exists()


def test_it_reports_every_problem_at_once(client, owner, fake_model):
    client.force_login(owner)
    response = upload(client, [entry(fake_model, model="nope"),
                               entry(fake_model, body={"prompt": "x", "top_p": 2})])
    html = response.content.decode()
    assert "unknown model &quot;nope&quot;" in html and "top_p must be between 0 and 1" in html


def test_it_refuses_a_disabled_model_or_one_that_does_not_serve_the_mode(client, owner, fake_model):
    fake_model.serves_chat = False
    fake_model.save()
    client.force_login(owner)
    html = upload(client, [entry(fake_model, mode="chat",
                                 body={"messages": [{"role": "user", "content": "x"}]})]
                  ).content.decode()
    assert "model &quot;Echo&quot; does not serve chat" in html
    fake_model.enabled = False
    fake_model.save()
    assert "unknown model" in upload(client, [entry(fake_model)]).content.decode()
    assert not Preset.objects.exists()


def test_it_requires_a_file(client, owner):
    client.force_login(owner)
    assert "choose a file" in client.post("/presets/import/").content.decode()
    assert client.get("/presets/import/").status_code == 200


def test_the_import_dialog_is_a_form_posted_with_htmx(client, owner, fake_model):
    client.force_login(owner)
    html = client.get("/presets/import/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="import-dialog"' in html and "<html" not in html and 'name="file"' in html
    # A wrong file: the dialog again, the reasons beside the file field.
    bad = SimpleUploadedFile("presets.json", b"{not json", content_type="application/json")
    response = client.post("/presets/import/", {"file": bad}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 400 and "<html" not in html
    assert html.index('name="file"') < html.index("the file is not valid JSON")
    # A good one: the dialog closes on the list, which shows it.
    good = SimpleUploadedFile("presets.json", json.dumps([entry(fake_model)]).encode())
    response = client.post("/presets/import/", {"file": good}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"] == "/presets/"
    assert "Imported 1 preset." in client.get("/presets/").content.decode()
