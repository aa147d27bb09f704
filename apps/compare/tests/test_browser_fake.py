"""The compare page in Chromium against the scripted test upstream: pane
management, sync, stopping one pane, n > 1 as a grid, errors per pane."""

import json
import re

import pytest
from playwright.sync_api import expect

from apps.history.models import Run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_runs_panes_with_synced_and_own_parameters(signed_in, owner, app_url, fake_model,
                                                     upstream):
    upstream.behave(interval=0.02)
    page = signed_in(owner)
    page.goto(f"{app_url}/compare/?mode=completions")
    panes = page.locator("#panes .pane")
    expect(panes).to_have_count(2)
    page.fill("#prompt", "compare these words")
    panes.nth(0).locator(".pane-model").select_option(str(fake_model.uuid))
    page.click("#add-pane")
    expect(panes).to_have_count(3)
    # temperature is synced by default: set in one pane, every pane has it.
    first = panes.nth(0)
    first.locator("summary").click()
    first.locator("[data-field=temperature]").fill("0.7")
    for i in range(3):
        expect(panes.nth(i).locator("[data-field=temperature]")).to_have_value("0.7")
    # Unsynced, a pane keeps its own value.
    first.locator("[data-sync=seed]").uncheck()
    first.locator("[data-field=seed]").fill("3")
    expect(panes.nth(1).locator("[data-field=seed]")).to_have_value("")
    page.keyboard.press("Control+Enter")
    for i in range(3):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Completed")
        expect(panes.nth(i).locator(".stream-text")).to_have_text("Echo: compare these words")
    runs = Run.objects.order_by("created")
    assert sorted(r.request.get("seed", 0) for r in runs) == [0, 0, 3]
    assert all(r.request["temperature"] == 0.7 and r.source == "compare" for r in runs)
    # The round is kept: the address is now the comparison's.
    expect(page).to_have_url(re.compile(r"/compare/[0-9a-f-]{36}/$"))


def use_model(panes, count, model):
    for i in range(count):
        panes.nth(i).locator(".pane-model").select_option(str(model.uuid))


def test_it_adds_duplicates_reorders_and_removes_panes(signed_in, owner, app_url, fake_model):
    page = signed_in(owner)
    page.goto(f"{app_url}/compare/?mode=completions")
    panes = page.locator("#panes .pane")
    panes.nth(1).locator("details.pane-params").evaluate("el => el.open = true")
    panes.nth(1).locator("[data-sync=top_p]").uncheck()
    panes.nth(1).locator("[data-field=top_p]").fill("0.3")
    panes.nth(1).locator("[data-action=duplicate]").click()
    expect(panes).to_have_count(3)
    expect(panes.nth(2).locator("[data-field=top_p]")).to_have_value("0.3")
    expect(panes.nth(0).locator("[data-field=top_p]")).to_have_value("")
    panes.nth(2).locator("[data-action=left]").click()
    panes.nth(0).locator("[data-action=remove]").click()
    expect(panes).to_have_count(2)
    expect(panes.nth(0).locator(".pane-label")).to_have_text("Pane 1")
    # At least two panes, at most six.
    expect(panes.nth(0).locator("[data-action=remove]")).to_be_disabled()
    for _ in range(4):
        page.click("#add-pane")
    expect(panes).to_have_count(6)
    expect(page.locator("#add-pane")).to_be_disabled()


def test_it_stops_one_pane_and_esc_stops_the_rest(signed_in, owner, app_url, fake_model,
                                                  upstream):
    upstream.behave(chunks=["tick "] * 200, interval=0.05)
    page = signed_in(owner)
    page.goto(f"{app_url}/compare/?mode=completions")
    panes = page.locator("#panes .pane")
    page.click("#add-pane")
    use_model(panes, 3, fake_model)
    page.fill("#prompt", "count")
    page.click("#run-all")
    for i in range(3):
        expect(panes.nth(i).locator(".stream-text")).to_contain_text("tick")
    panes.nth(1).locator(".pane-stop").click()
    expect(panes.nth(1).locator(".result .status")).to_have_text("Cancelled")
    # The others go on streaming.
    expect(panes.nth(0)).to_have_class(re.compile("is-running"))
    length = len(panes.nth(0).locator(".stream-text").inner_text())
    page.wait_for_function(
        "n => document.querySelector('#panes .pane .stream-text').textContent.length > n + 20",
        arg=length)
    page.keyboard.press("Escape")
    for i in (0, 2):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Cancelled")
    expect(page.locator("#run-all")).to_be_enabled()


def test_it_keeps_an_error_in_its_pane_and_shows_n_choices_as_a_grid(
    signed_in, owner, app_url, fake_model, upstream
):
    from apps.providers.models import Model, Provider

    broken = Provider.objects.create(name="Nowhere", kind="openai",
                                     base_url="http://127.0.0.1:9/v1", connect_timeout=1)
    nowhere = Model.objects.create(provider=broken, upstream_id="gone", display_name="Gone")
    page = signed_in(owner)
    page.goto(f"{app_url}/compare/?mode=completions")
    panes = page.locator("#panes .pane")
    panes.nth(0).locator(".pane-model").select_option(str(fake_model.uuid))
    panes.nth(1).locator(".pane-model").select_option(str(nowhere.uuid))
    panes.nth(0).locator("details.pane-params").evaluate("el => el.open = true")
    panes.nth(0).locator("[data-field=n]").fill("2")
    page.fill("#prompt", "grid")
    page.click("#run-all")

    expect(panes.nth(1).locator(".result .status")).to_have_text("Failed")
    expect(panes.nth(1).locator(".pane-errors .error")).to_be_visible()
    expect(panes.nth(0).locator(".result .status")).to_have_text("Completed")
    expect(panes.nth(0).locator(".pane-errors .error")).to_have_count(0)
    # n = 2 (synced, so both panes asked for it): two choices side by side.
    expect(panes.nth(0).locator(".pane-output .choice")).to_have_count(2)
    expect(panes.nth(0).locator(".pane-output .choice").nth(1)).to_contain_text("Echo #1: grid")
    # The diff picker offers each choice.
    expect(page.locator("#diff-a option")).to_have_count(2)
    page.locator("#diff-a").select_option(index=0)
    page.locator("#diff-b").select_option(index=0)
    page.click("#diff-button")
    expect(page.locator("#diff .diff-same")).to_have_text("The two outputs are identical.")


def test_it_hides_the_models_in_blind_mode_until_a_pane_is_picked(signed_in, owner, app_url,
                                                                 fake_model, upstream):
    from apps.providers.models import Model

    other = Model.objects.create(provider=fake_model.provider, upstream_id="echo-2",
                                 display_name="Echo Two")
    page = signed_in(owner)
    page.goto(f"{app_url}/compare/?mode=completions")
    panes = page.locator("#panes .pane")
    panes.nth(0).locator(".pane-model").select_option(str(fake_model.uuid))
    panes.nth(1).locator(".pane-model").select_option(str(other.uuid))
    page.check("#blind")
    page.fill("#prompt", "blind")
    page.click("#run-all")
    for i in range(2):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Completed")
    expect(panes.nth(0).locator(".pane-label")).to_have_text("Pane A")
    expect(panes.nth(0).locator(".pane-model")).to_be_hidden()
    expect(page.locator("#diff-a")).not_to_contain_text("Echo")
    expect(panes.nth(1).locator(".pane-vote")).to_be_visible()
    panes.nth(1).locator(".pane-vote").click()

    expect(page.locator("#wins .vote-result")).to_contain_text("You picked")
    expect(panes.nth(0).locator(".pane-model")).to_be_visible()
    winner = panes.nth(1).locator(".pane-model option:checked").inner_text().split(" · ")[0]
    expect(page.locator("#wins .wins-row").first).to_contain_text(winner)
    expect(page.locator("#wins .wins-row").first.locator(".wins-count")).to_have_text("1")


def test_it_follows_a_round_that_streams_through_a_reload(signed_in, owner, app_url, fake_model,
                                                          upstream):
    from apps.compare.models import Comparison

    # 16 chunks: max_tokens is unset, so the documented default (16) applies.
    upstream.behave(chunks=["tick "] * 16, interval=0.2)
    page = signed_in(owner)
    page.goto(f"{app_url}/compare/?mode=completions")
    panes = page.locator("#panes .pane")
    use_model(panes, 2, fake_model)
    page.fill("#prompt", "count")
    page.click("#run-all")
    # The round is kept once every run started: the address names it.
    expect(page).to_have_url(re.compile(r"/compare/[0-9a-f-]{36}/$"))
    expect(panes.nth(1).locator(".stream-text")).to_contain_text("tick")
    page.reload()

    expect(panes).to_have_count(2)
    for i in range(2):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Completed")
        expect(panes.nth(i).locator(".stream-text")).to_have_text(("tick " * 16).strip())
    comparison = Comparison.objects.get()
    assert [n for n, _ in comparison.rounds()] == [1]
    assert all(r.status == Run.COMPLETED for r in comparison.last_runs().values())


def two_panes_with_sockets_kept(page, app_url, model):
    """Compare (completions) with two panes on `model` and a prompt, the
    page's sockets kept for the test to drop (test_browser_resume)."""
    from apps.studio.tests.test_browser_resume import KEEP_SOCKETS

    page.add_init_script(KEEP_SOCKETS)
    page.goto(f"{app_url}/compare/?mode=completions")
    panes = page.locator("#panes .pane")
    use_model(panes, 2, model)
    page.fill("#prompt", "count")
    return page, panes


def test_a_round_that_ended_while_the_page_was_away_shows_each_pane_once(
    signed_in, owner, app_url, fake_model, upstream
):
    from apps.studio.tests.test_browser_resume import drop_until

    upstream.behave(chunks=["tick "] * 16, interval=0.05)
    page, panes = two_panes_with_sockets_kept(signed_in(owner), app_url, fake_model)
    page.click("#run-all")
    expect(panes.nth(1).locator(".stream-text")).to_contain_text("tick tick")
    drop_until(page, lambda: Run.objects.filter(status=Run.COMPLETED).count() == 2)
    for i in range(2):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Completed")
        expect(panes.nth(i).locator(".stream-text")).to_have_text(("tick " * 16).strip())


def test_a_pane_stopped_while_the_page_is_away_stops_and_the_rest_go_on(
    signed_in, owner, app_url, fake_model, upstream
):
    upstream.behave(chunks=["tick "] * 60, interval=0.05)
    page, panes = two_panes_with_sockets_kept(signed_in(owner), app_url, fake_model)
    panes.nth(0).locator("details.pane-params").evaluate("el => el.open = true")
    panes.nth(0).locator("[data-field=max_tokens]").fill("100")
    page.click("#run-all")
    expect(panes.nth(0).locator(".stream-text")).to_contain_text("tick tick")
    page.evaluate("window.__refuse = true; window.__sockets.at(-1).close()")
    panes.nth(0).locator(".pane-stop").click()
    page.evaluate("window.__refuse = false")
    expect(panes.nth(0).locator(".result .status")).to_have_text("Cancelled", timeout=15_000)
    expect(panes.nth(1).locator(".result .status")).to_have_text("Completed", timeout=15_000)
    statuses = sorted(Run.objects.values_list("status", flat=True))
    assert statuses == [Run.CANCELLED, Run.COMPLETED]


def test_each_pane_has_its_own_extra_parameters(signed_in, owner, app_url, fake_model, upstream):
    page = signed_in(owner)
    page.goto(f"{app_url}/compare/?mode=completions")
    panes = page.locator("#panes .pane")
    page.fill("#prompt", "extras")
    use_model(panes, 2, fake_model)
    first = panes.nth(0)
    first.locator("summary").click()
    extras = first.locator("[data-pane-extras]")
    expect(first.locator(".extras-policy")).to_contain_text("receives them as they are")
    # A mistake is named in its pane, and nothing is sent.
    extras.fill('{"top_k": 40')
    page.click("#run-all")
    expect(first.locator("[data-error-for=extra_parameters]")).to_contain_text("not valid JSON")
    extras.fill('{"temperature": 1}')
    page.click("#run-all")
    expect(first.locator("[data-error-for=extra_parameters]")).to_contain_text(
        "temperature: set with the form's own control")
    extras.fill('{"prompt": "mine"}')
    page.click("#run-all")
    expect(first.locator("[data-error-for=extra_parameters]")).to_contain_text(
        "prompt: the prompt above the panes is every pane's")
    assert not upstream.requests
    extras.fill('{"top_k": 40, "min_p": 0.05}')
    expect(first.locator(".param-count")).to_have_text("(1 set)")
    # A duplicate takes the pane's extras with it.
    first.locator("[data-action=duplicate]").click()
    expect(panes).to_have_count(3)
    expect(panes.nth(1).locator("[data-pane-extras]")).to_have_value('{"top_k": 40, "min_p": 0.05}')
    page.click("#run-all")
    for i in range(3):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Completed")

    bodies = [q.json for q in upstream.requests]
    sent = sorted((b.get("top_k", 0), b.get("min_p", 0)) for b in bodies)
    assert sent == [(0, 0), (40, 0.05), (40, 0.05)]
    runs = Run.objects.order_by("created")
    assert sorted(r.request.get("top_k", 0) for r in runs) == [0, 40, 40]
    # The saved comparison opens with each pane's extras in its editor.
    expect(page).to_have_url(re.compile(r"/compare/[0-9a-f-]{36}/$"))
    page.reload()
    reopened = page.locator("#panes .pane")
    expect(reopened).to_have_count(3)
    values = [reopened.nth(i).locator("[data-pane-extras]").input_value() for i in range(3)]
    assert sorted(json.loads(v)["top_k"] if v else 0 for v in values) == [0, 40, 40]
