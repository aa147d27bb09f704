"""The form adapts to the chosen model (Chromium): the embedded model's
unaccepted fields are disabled with the adapter's reason and not sent; an
upstream model that accepts them enables them again. Extra parameters go to
the run as top-level fields."""

import re

import pytest
from playwright.sync_api import expect

from apps.history.models import Run
from apps.inference.local import LOCAL_FIELD_NOTES
from apps.providers.models import ensure_local_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOOL_FIELDS = ("tools", "tool_choice", "parallel_tool_calls")


@pytest.fixture
def local_model(transactional_db):
    return ensure_local_provider()


def field_box(page, name):
    return page.locator(f".field:has([data-field={name}])").first


def expect_disabled_with_reason(page, name):
    box = field_box(page, name)
    expect(box).to_have_class(re.compile(r"\bunaccepted\b"))
    expect(box.locator(".unaccepted-reason")).to_have_text(LOCAL_FIELD_NOTES[name])
    for control in box.locator("input, select, textarea").all():
        expect(control).to_be_disabled()


def expect_enabled(page, name):
    box = field_box(page, name)
    expect(box.locator(".unaccepted-reason")).to_have_count(0)
    for control in box.locator("input, select, textarea").all():
        expect(control).to_be_enabled()


def test_it_disables_what_the_embedded_model_ignores_on_completions(
    signed_in, owner, app_url, local_model, fake_model
):
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(local_model.uuid))
    for name in ("echo", "suffix", "best_of"):
        expect_disabled_with_reason(page, name)
    expect(field_box(page, "echo").locator(".unaccepted-reason")).to_contain_text(
        "llama.cpp ignores echo")
    expect_enabled(page, "temperature")

    page.select_option("select[name=model]", str(fake_model.uuid))
    for name in ("echo", "suffix", "best_of"):
        expect_enabled(page, name)

    # Back to the embedded model: a value typed meanwhile stays, unsent.
    page.locator("[data-field=suffix]").fill(" The end.")
    page.select_option("select[name=model]", str(local_model.uuid))
    expect_disabled_with_reason(page, "suffix")
    expect(page.locator("[data-field=suffix]")).to_have_value(" The end.")
    body = page.evaluate("window.Playground.collect()")
    assert "suffix" not in body and "echo" not in body


def test_it_disables_the_tool_fields_for_the_embedded_model_on_chat(
    signed_in, owner, app_url, local_model, fake_model
):
    page = signed_in(owner)
    page.goto(f"{app_url}/")
    page.select_option("select[name=model]", str(local_model.uuid))
    for name in TOOL_FIELDS:
        expect_disabled_with_reason(page, name)
    page.select_option("select[name=model]", str(fake_model.uuid))
    for name in TOOL_FIELDS:
        expect_enabled(page, name)


def test_it_sends_extra_parameters_at_the_top_level(
    signed_in, owner, app_url, fake_model, upstream
):
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(fake_model.uuid))
    expect(page.locator(".extras-policy")).to_contain_text("receives them as they are")
    page.fill("[data-prompt]", "Once upon a time")
    page.fill("[data-extras]", '{"top_k": 5, "min_p": 0.05}')
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=30_000)
    run = Run.objects.get()
    assert run.request["top_k"] == 5 and run.request["min_p"] == 0.05
    assert upstream.last.json["top_k"] == 5

    # A mistake is shown on the editor, and nothing is sent.
    page.fill("[data-extras]", "[1, 2]")
    page.click("#run-button")
    expect(page.locator("[data-error-for=extra_parameters]")).to_contain_text(
        "must be a JSON object")
    page.fill("[data-extras]", '{"temperature": 1}')
    page.click("#run-button")
    expect(page.locator("[data-error-for=extra_parameters]")).to_contain_text(
        "set with the form's own control")
    assert Run.objects.count() == 1
