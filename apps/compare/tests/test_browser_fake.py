"""The compare page in Chromium against the scripted test upstream: pane
management, sync, stopping one pane, n > 1 as a grid, errors per pane."""

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
