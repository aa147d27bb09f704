"""The results grid: ratings, summary, export, before/after, and outsiders 404."""

import csv
import io
import json

import pytest

from apps.cases.models import Assertion, Case
from apps.evals import batches
from apps.evals.models import Batch, Cell
from apps.history.models import Run
from apps.presets.models import Preset

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(owner, fake_model):
    preset = Preset.create(owner, "Capitals", "", "completions", fake_model,
                           {"prompt": "Capital of {{country}}?"})
    Case.append(preset, [{"country": "France", "expected": "Paris"},
                         {"country": "Peru", "expected": "Lima"}])
    Assertion.objects.create(preset=preset, kind=Assertion.Kind.CONTAINS, value="{{expected}}")
    return batches.start(owner, preset, [str(fake_model.uuid)])


def finish(batch, outputs, fake_model):
    """Store each cell as the worker would (the worker itself is tested in test_batches)."""
    for cell, (text, passed) in zip(batch.cells.order_by("row"), outputs, strict=True):
        run = Run.objects.create(owner=batch.owner, endpoint="completions", model=fake_model,
                                 model_name="Echo", request={}, output_text=text,
                                 status=Run.COMPLETED, duration_ms=100.0 * (cell.row + 1),
                                 completion_tokens=5, source="evals")
        Cell.objects.filter(pk=cell.pk).update(
            run=run, status=Cell.Status.DONE, passed=passed,
            verdicts=[{"kind": "contains", "passed": passed, "reason": "r"}])
    batch.maybe_finished()


def test_it_rates_summarises_and_exports_a_batch(client, owner, batch, fake_model):
    finish(batch, [("Paris.", True), ("Cusco.", False)], fake_model)
    client.force_login(owner)
    cell = batch.cells.get(row=0)
    response = client.post(f"/evals/cells/{cell.uuid}/rate/", {"value": "up", "comment": "good"})
    assert response.status_code == 200 and 'aria-pressed="true"' in response.content.decode()
    page = client.get(f"/evals/b/{batch.uuid}/").content.decode()
    assert "50% (1/2)" in page and "👍 1 · 👎 0" in page and "Finished" in page
    (summary,) = Batch.objects.get(pk=batch.pk).summary()
    assert summary["mean_ms"] == 150 and summary["p95_ms"] == 200
    assert summary["completion_tokens"] == 10

    rows = list(csv.DictReader(io.StringIO(client.get(f"/evals/b/{batch.uuid}/export.csv")
                                           .content.decode())))
    assert [(r["country"], r["output"], r["passed"], r["rating"]) for r in rows] == [
        ("France", "Paris.", "pass", "up"), ("Peru", "Cusco.", "fail", "")]
    lines = client.get(f"/evals/b/{batch.uuid}/export.jsonl").content.decode().splitlines()
    assert json.loads(lines[0])["comment"] == "good"


def test_it_highlights_cells_that_changed_verdict(client, owner, batch, fake_model):
    finish(batch, [("Paris.", True), ("Cusco.", False)], fake_model)
    after = batches.start(owner, batch.preset, [str(fake_model.uuid)])
    finish(after, [("Paris.", True), ("Lima.", True)], fake_model)
    client.force_login(owner)
    batch_page = client.get(f"/evals/b/{after.uuid}/").content.decode()
    assert f"/evals/b/{after.uuid}/vs/{batch.uuid}/" in batch_page
    page = client.get(f"/evals/b/{after.uuid}/vs/{batch.uuid}/").content.decode()
    assert "<strong>1</strong> cell changed verdict" in page
    assert page.count('class="changed"') == 1


def test_it_hides_a_batch_from_outsiders(client, outsider, batch):
    client.force_login(outsider)
    cell = batch.cells.first()
    for url in ("", "grid/", "export.csv", "export.jsonl"):
        assert client.get(f"/evals/b/{batch.uuid}/{url}").status_code == 404
    assert client.post(f"/evals/b/{batch.uuid}/cancel/").status_code == 404
    assert client.post(f"/evals/cells/{cell.uuid}/rate/", {"value": "up"}).status_code == 404
    batch.refresh_from_db()
    assert batch.status == Batch.Status.RUNNING
