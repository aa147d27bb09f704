"""Evaluate in Chromium, on the embedded model: a template with two
variables, five test cases imported from CSV, Run all, the grid fills, a
cell rated, the grid exported as CSV."""

import csv

import pytest
from playwright.sync_api import expect

from apps.cases.models import Case
from apps.history.models import Run
from apps.presets.tests.test_browser import open_save_dialog
from apps.providers.models import ensure_local_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = b"animal,color\ncat,red\ndog,blue\nfox,green\nowl,white\nbee,yellow\n"


def test_it_evaluates_a_template_on_the_embedded_model(signed_in, app_url, owner, workers,
                                                       tmp_path):
    local = ensure_local_provider()
    workers(threads=4)
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(local.uuid))
    page.fill("[data-prompt]", "A {{color}} {{animal}} is")
    page.locator("details.group").evaluate_all("els => els.forEach(e => e.open = true)")
    page.fill("[data-field=max_tokens]", "6")
    panel = page.locator("#variables-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("[data-variable]")).to_have_count(2)
    panel.locator("[data-variable=color]").fill("red")
    panel.locator("[data-variable=animal]").fill("cat")
    page.click("#run-button")
    expect(page.locator("#result")).to_contain_text("Completed", timeout=60_000)
    run = Run.objects.get(source="playground")
    assert run.request["prompt"] == "A red cat is"
    assert run.template["variables"] == {"color": "red", "animal": "cat"}

    open_save_dialog(page)
    page.fill("#preset-dialog [name=name]", "Animals")
    page.click("#preset-dialog .save-new")
    page.click("#preset-dialog .preset-link")
    page.click(".test-cases")
    page.set_input_files("input[name=file]", files=[
        {"name": "cases.csv", "mimeType": "text/csv", "buffer": CSV}])
    page.click(".import-cases button[type=submit]")
    expect(page.locator("tr.case-row")).to_have_count(5)
    assert Case.objects.count() == 5

    page.click("#run-all")
    grid = page.locator("#batch-grid")
    expect(grid.locator("td.cell")).to_have_count(5)
    expect(grid).to_have_attribute("data-status", "finished", timeout=120_000)
    expect(grid.locator("td.cell-done")).to_have_count(5)
    first = grid.locator("td.cell").first
    first.locator("[name=comment]").fill("nice")
    first.locator("button[value=up]").click()
    expect(grid.locator("td.cell").first.locator("button[value=up]")).to_have_attribute(
        "aria-pressed", "true")

    with page.expect_download() as download:
        page.click(".export-csv")
    lines = (tmp_path / "grid.csv")
    download.value.save_as(lines)
    # Parsed as CSV: an output may hold a line break inside its quoted field.
    with lines.open(newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 6
    header = rows[0]
    assert header[:6] == ["case", "pane", "color", "animal", "expected", "status"]  # template order
    rated = dict(zip(header, rows[1], strict=True))
    assert (rated["rating"], rated["comment"]) == ("up", "nice")
