"""Presets, history search and View code in a real browser (Debian Chromium
via Playwright) against a live daphne server and the scripted test upstream."""

import json
import re

import pytest
from playwright.sync_api import expect

from apps.history.models import Run
from apps.presets.code import sent_body
from apps.presets.models import Preset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_groups(page):
    page.locator("details.group").evaluate_all("ds => ds.forEach(d => d.open = true)")


def completions_form(page, app_url, model, prompt, max_tokens="12"):
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(model.uuid))
    page.fill("[data-prompt]", prompt)
    open_groups(page)
    page.fill("[data-field=max_tokens]", max_tokens)


def open_save_dialog(page):
    page.click("#save-preset-button")
    # Ready when htmx has settled the swap: it focuses the [autofocus] name
    # field ~20 ms after showModal() did, and typing in between lands in the
    # name (seen in CI: the description's text appended to the name).
    expect(page.locator("#preset-dialog [name=name]")).to_be_focused()
    expect(page.locator("#modal")).not_to_have_class(re.compile(r"htmx-settling"))


def test_it_saves_shares_forks_and_runs_a_preset(signed_in, app_url, owner, teammate, fake_model,
                                                 upstream):
    upstream.behave(text="Once upon a forked time")
    page = signed_in(owner)
    completions_form(page, app_url, fake_model, "Tell me a story")
    open_save_dialog(page)
    page.fill("#preset-dialog [name=name]", "Story starter")
    page.fill("#preset-dialog [name=description]", "Begins a tale")
    page.click("#preset-dialog .save-new")
    expect(page.locator("#preset-dialog .preset-saved")).to_contain_text(
        "Saved “Story starter”, version 1"
    )
    page.click("#preset-dialog .preset-link")
    expect(page.locator(".preset-name")).to_have_text("Story starter")
    page.click(".share-button")
    share_url = page.locator(".share-url").input_value()
    assert re.fullmatch(rf"{app_url}/presets/s/[A-Za-z0-9_-]{{32}}/", share_url)

    page.context.clear_cookies()
    signed_in(teammate)
    page.goto(share_url)
    expect(page.locator(".preset-name")).to_have_text("Story starter")
    expect(page.locator(".preset-body")).to_contain_text('"max_tokens": 12')
    page.click(".fork-button")
    fork = Preset.objects.get(owner=teammate)
    page.wait_for_url(f"{app_url}/presets/{fork.uuid}/")
    page.click(".open-preset")
    expect(page.locator("[data-prompt]")).to_have_value("Tell me a story")
    page.click("#run-button")
    expect(page.locator("#output .stream-text")).to_have_text("Once upon a forked time")
    expect(page.locator("#result .status")).to_have_text("Completed")

    run = Run.objects.get()
    assert run.owner == teammate
    assert run.request["prompt"] == "Tell me a story" and run.request["max_tokens"] == 12
    # The fork ran exactly the form the owner saved.
    saved = Preset.objects.get(owner=owner).latest.body
    assert run.request == sent_body(fake_model, "completions", {"model": "echo-1", **saved})


def test_it_shows_errors_and_saves_versions_from_the_playground(signed_in, app_url, owner,
                                                                 fake_model):
    page = signed_in(owner)
    completions_form(page, app_url, fake_model, "Hi", max_tokens="-3")
    open_save_dialog(page)
    page.fill("#preset-dialog [name=name]", "Greeting")
    page.click("#preset-dialog .save-new")
    expect(page.locator("#preset-dialog .preset-errors")).to_contain_text("max_tokens")
    assert not Preset.objects.exists()

    # The error is beside nothing of the dialog's own: the name stays as typed.
    expect(page.locator("#preset-dialog [name=name]")).to_have_value("Greeting")
    page.keyboard.press("Escape")
    page.fill("[data-field=max_tokens]", "3")
    open_save_dialog(page)
    page.fill("#preset-dialog [name=name]", "Greeting")
    page.click("#preset-dialog .save-new")
    expect(page.locator("#preset-dialog .preset-saved")).to_contain_text("version 1")
    expect(page.locator("#preset-dialog .preset-errors")).to_be_empty()
    page.keyboard.press("Escape")
    page.fill("[data-prompt]", "Hello again")
    open_save_dialog(page)
    # Saved once, the dialog offers a new version of that preset, its name filled in.
    expect(page.locator("#preset-dialog [name=name]")).to_have_value("Greeting")
    page.click("#preset-dialog .save-version")
    expect(page.locator("#preset-dialog .preset-saved")).to_contain_text("version 2")
    preset = Preset.objects.get()
    assert preset.version(1).body["prompt"] == "Hi"
    assert preset.latest.body["prompt"] == "Hello again"


def test_it_exports_and_imports_presets(signed_in, app_url, owner, teammate, fake_model, tmp_path):
    Preset.create(owner, "Exported one", "", "chat", fake_model,
                  {"messages": [{"role": "user", "content": "Round trip"}], "temperature": 0.3})
    page = signed_in(owner)
    page.goto(f"{app_url}/presets/")
    with page.expect_download() as download:
        page.click("text=Export all as JSON")
    path = tmp_path / "presets.json"
    download.value.save_as(path)
    assert json.loads(path.read_text())["presets"][0]["name"] == "Exported one"

    page.context.clear_cookies()
    signed_in(teammate)
    page.goto(f"{app_url}/presets/import/")
    page.set_input_files("input[name=file]", files=[{
        "name": "bad.json", "mimeType": "application/json",
        "buffer": path.read_bytes().replace(b'"temperature": 0.3', b'"temperature": 7'),
    }])
    page.click("button[type=submit]:has-text('Import')")
    expect(page.locator(".import-errors")).to_contain_text("temperature must be between 0 and 2")
    assert not Preset.objects.filter(owner=teammate).exists()

    page.set_input_files("input[name=file]", str(path))
    page.click("button[type=submit]:has-text('Import')")
    expect(page.locator(".preset-row")).to_contain_text("Exported one")
    imported = Preset.objects.get(owner=teammate)
    assert imported.as_export() == Preset.objects.get(owner=owner).as_export()


def test_it_finds_a_run_by_a_word_of_its_output(signed_in, app_url, owner, fake_model, upstream):
    Run.objects.create(owner=owner, endpoint="completions", model_name="Echo",
                       request={"model": "echo-1", "prompt": "Other"}, prompt_text="Other",
                       output_text="Nothing to see", status=Run.COMPLETED)
    upstream.behave(text="A striped zebra crossed")
    page = signed_in(owner)
    completions_form(page, app_url, fake_model, "Describe an animal")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed")

    page.goto(f"{app_url}/history/")
    expect(page.locator(".run-row")).to_have_count(2)
    page.fill("input[name=q]", "zebra")
    page.press("input[name=q]", "Enter")
    expect(page.locator(".run-row")).to_have_count(1)
    expect(page.locator(".run-row")).to_contain_text("A striped zebra crossed")
    expect(page.locator(".run-count")).to_have_text("1 run found")
    page.click(".run-row a >> nth=0")
    expect(page.locator(".output-text")).to_have_text("A striped zebra crossed")


def curl_json(text):
    return json.loads(re.search(r"<<'JSON'\n(.*)\nJSON\n", text, re.S).group(1))


def test_view_code_shows_the_request_that_was_sent(signed_in, app_url, owner, fake_model,
                                                    upstream):
    upstream.behave(text="Code me")
    page = signed_in(owner)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    completions_form(page, app_url, fake_model, 'Say "hi" \\ twice')
    page.fill("[data-field=temperature]", "0.25")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed")
    run = Run.objects.get()

    # The playground's button, for the form as it stands.
    page.click("#view-code-button")
    curl = page.locator("#code-dialog #code-curl")
    expect(curl).to_contain_text("curl")
    assert curl_json(curl.inner_text()) == run.request
    page.click("#code-dialog [data-tab=python]")
    expect(page.locator("#code-dialog #code-python")).to_contain_text(
        "client.completions.create("
    )
    page.click("#code-dialog [data-copy=code-python]")
    expect(page.locator("#code-dialog [data-copy=code-python]")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#code-dialog #code-python").text_content()
    assert "sk-test-secret" not in copied

    # The run's page, for the request as stored.
    page.goto(f"{app_url}/history/runs/{run.uuid}/")
    assert curl_json(page.locator("#code-curl").inner_text()) == run.request


def test_it_imports_through_the_dialog_of_the_list(signed_in, app_url, owner, fake_model,
                                                   tmp_path):
    page = signed_in(owner)
    page.goto(f"{app_url}/presets/")
    page.click(".import-link")
    dialog = page.locator("#modal")
    expect(dialog.locator("#import-dialog")).to_be_visible()
    document = {"format": "playground-presets", "version": 1, "presets": [{
        "name": "From a file", "description": "", "mode": "completions", "model": "Echo",
        "body": {"prompt": "Once", "temperature": 9},
    }]}
    dialog.locator("input[name=file]").set_input_files(files=[{
        "name": "p.json", "mimeType": "application/json", "buffer": json.dumps(document).encode(),
    }])
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".import-errors")).to_contain_text("temperature must be between 0 and 2")
    document["presets"][0]["body"]["temperature"] = 0.5
    dialog.locator("input[name=file]").set_input_files(files=[{
        "name": "p.json", "mimeType": "application/json", "buffer": json.dumps(document).encode(),
    }])
    dialog.locator("button[type=submit]").click()
    expect(page.locator(".preset-row")).to_contain_text("From a file")
    expect(page.locator(".messages")).to_contain_text("Imported 1 preset.")
    assert Preset.objects.get().latest.body["temperature"] == 0.5
