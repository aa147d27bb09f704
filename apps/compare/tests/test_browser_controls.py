"""Compare's panes in Chromium, with the playground's controls: each pane
adapts to its own model (fields the model does not accept are disabled with
the reason and not sent, and enabled again for a model that accepts them),
enums are menus and ranged numbers have a slider beside the box."""

import re

import pytest
from playwright.sync_api import expect

from apps.catalog import fields_for
from apps.history.models import Run
from apps.inference.local import LOCAL_FIELD_NOTES
from apps.providers.models import ensure_local_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def local_model(transactional_db):
    return ensure_local_provider()


def field_box(pane, name):
    return pane.locator(f".pfield[data-name={name}]")


def expect_disabled_with_reason(pane, name):
    box = field_box(pane, name)
    expect(box).to_have_class(re.compile(r"\bunaccepted\b"))
    expect(box.locator(".unaccepted-reason")).to_have_text(LOCAL_FIELD_NOTES[name])
    expect(box.locator(f"[data-field={name}]")).to_be_disabled()


def expect_enabled(pane, name):
    box = field_box(pane, name)
    expect(box).not_to_have_class(re.compile(r"\bunaccepted\b"))
    expect(box.locator(".unaccepted-reason")).to_have_count(0)
    expect(box.locator(f"[data-field={name}]")).to_be_enabled()


def open_params(pane):
    pane.locator("details.pane-params").evaluate("el => el.open = true")


def test_it_adapts_each_pane_to_its_own_model(signed_in, owner, app_url, local_model,
                                              fake_model):
    page = signed_in(owner)
    page.goto(f"{app_url}/compare/?mode=completions")
    panes = page.locator("#panes .pane")
    embedded, upstream_pane = panes.nth(0), panes.nth(1)
    embedded.locator(".pane-model").select_option(str(local_model.uuid))
    upstream_pane.locator(".pane-model").select_option(str(fake_model.uuid))
    for pane in (embedded, upstream_pane):
        open_params(pane)
    for name in ("echo", "suffix", "best_of"):
        expect_disabled_with_reason(embedded, name)
        expect_enabled(upstream_pane, name)
    expect(field_box(embedded, "echo").locator(".unaccepted-reason")).to_contain_text(
        "llama.cpp ignores echo")
    expect_enabled(embedded, "temperature")

    # echo set (and synced): the embedded pane keeps the value but does not send it.
    upstream_pane.locator("[data-field=echo]").select_option("true")
    expect(embedded.locator("[data-field=echo]")).to_have_value("true")
    expect(embedded.locator(".param-count")).to_have_text("")
    expect(upstream_pane.locator(".param-count")).to_have_text("(1 set)")
    page.fill("#prompt", "Once upon a time")
    embedded.locator("[data-sync=max_tokens]").uncheck()
    embedded.locator("[data-field=max_tokens]").fill("2")
    page.click("#run-all")
    for i in range(2):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Completed",
                                                                       timeout=60_000)
    runs = {run.model_id: run for run in Run.objects.all()}
    assert "echo" not in runs[local_model.pk].request
    assert runs[fake_model.pk].request["echo"] is True
    assert not runs[local_model.pk].notices  # nothing was sent only to be dropped

    # Another model that accepts them: enabled again, value kept; a duplicate adapts too.
    embedded.locator(".pane-model").select_option(str(fake_model.uuid))
    for name in ("echo", "suffix", "best_of"):
        expect_enabled(embedded, name)
    expect(embedded.locator("[data-field=echo]")).to_have_value("true")
    upstream_pane.locator(".pane-model").select_option(str(local_model.uuid))
    upstream_pane.locator("[data-action=duplicate]").click()
    expect(panes).to_have_count(3)
    open_params(panes.nth(2))
    expect_disabled_with_reason(panes.nth(2), "echo")


def test_it_disables_the_tool_fields_for_the_embedded_model_on_chat(
    signed_in, owner, app_url, local_model, fake_model
):
    page = signed_in(owner)
    page.goto(f"{app_url}/compare/")
    pane = page.locator("#panes .pane").first
    pane.locator(".pane-model").select_option(str(local_model.uuid))
    open_params(pane)
    for name in ("tools", "tool_choice", "parallel_tool_calls"):
        expect_disabled_with_reason(pane, name)
    pane.locator(".pane-model").select_option(str(fake_model.uuid))
    for name in ("tools", "tool_choice", "parallel_tool_calls"):
        expect_enabled(pane, name)


def test_it_offers_enums_as_menus_and_sliders_beside_ranged_numbers(
    signed_in, owner, app_url, fake_model, upstream
):
    page = signed_in(owner)
    page.goto(f"{app_url}/compare/")
    panes = page.locator("#panes .pane")
    for i in range(2):
        panes.nth(i).locator(".pane-model").select_option(str(fake_model.uuid))
    first, second = panes.nth(0), panes.nth(1)
    open_params(first)
    open_params(second)
    # Every enum of the catalogue is a menu of its values, never a JSON box.
    for field in fields_for("chat"):
        if field.kind == "enum":
            menu = first.locator(f"select[data-field={field.name}]")
            expect(menu).to_have_count(1)
            values = menu.locator("option").evaluate_all("os => os.map(o => o.value)")
            assert values == ["", *field.choices], field.name
    first.locator("[data-field=reasoning_effort]").select_option("low")
    expect(second.locator("[data-field=reasoning_effort]")).to_have_value("low")  # synced

    # The slider moves the box, in this pane and (synced) in the other one with its slider.
    slider = first.locator("[data-slider-for=temperature]")
    slider.fill("1.3")
    expect(first.locator("[data-field=temperature]")).to_have_value("1.3")
    expect(second.locator("[data-field=temperature]")).to_have_value("1.3")
    expect(second.locator("[data-slider-for=temperature]")).to_have_value("1.3")
    # The box moves the slider; unset sends nothing.
    second.locator("[data-sync=top_p]").uncheck()
    second.locator("[data-field=top_p]").fill("0.25")
    expect(second.locator("[data-slider-for=top_p]")).to_have_value("0.25")
    second.locator("[data-unset=top_p]").click()
    expect(second.locator("[data-field=top_p]")).to_have_value("")
    expect(first.locator("[data-slider-for=seed]")).to_have_count(0)  # 2**64 wide: box only

    page.locator("#messages .message").last.locator("[data-m=content]").fill("Hello")
    page.click("#run-all")
    for i in range(2):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Completed")
    for run in Run.objects.all():
        assert run.request["reasoning_effort"] == "low"
        assert run.request["temperature"] == 1.3
        assert "top_p" not in run.request
    assert upstream.last.json["reasoning_effort"] == "low"
