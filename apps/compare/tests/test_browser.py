"""Compare in Chromium against a live server and the embedded model: two
panes with different temperatures and one seed run together, the diff marks
what differs, a second chat round continues each pane's thread, the
comparison is in history and reopens, and its snapshot link shows another
user the same outputs read-only until it is revoked."""

import re

import pytest
from playwright.sync_api import expect

from apps.compare.models import Comparison
from apps.history.models import Run
from apps.providers.models import ensure_local_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def local_model(transactional_db):
    # The test database is flushed between tests; register the embedded model again.
    return ensure_local_provider()


def set_param(pane, name, value):
    pane.locator("details.pane-params").evaluate("el => el.open = true")
    pane.locator(f"[data-field={name}]").fill(value)


def open_as(page, app_url, user, url):
    """A page of another browser context, signed in as `user`."""
    context = page.context.browser.new_context()
    other = context.new_page()
    other.goto(f"{app_url}/accounts/login/")
    other.fill("input[name=username]", user.username)
    other.fill("input[name=password]", PASSWORD)
    other.click("button[type=submit]")
    other.wait_for_url(f"{app_url}/")
    response = other.goto(url)
    return other, response


def test_it_compares_two_temperatures_of_the_embedded_model_over_two_rounds(
    signed_in, owner, teammate, outsider, app_url, local_model
):
    page = signed_in(owner)
    page.goto(f"{app_url}/compare/")
    panes = page.locator("#panes .pane")
    expect(panes).to_have_count(2)
    for i in range(2):
        panes.nth(i).locator(".pane-model").select_option(str(local_model.uuid))
    # max_tokens and seed are synced: set once, both panes have them.
    set_param(panes.nth(0), "max_tokens", "24")
    set_param(panes.nth(0), "seed", "7")
    expect(panes.nth(1).locator("[data-field=seed]")).to_have_value("7")
    # temperature differs: unsync it, then give each pane its own.
    panes.nth(0).locator("[data-sync=temperature]").uncheck()
    set_param(panes.nth(0), "temperature", "0")
    set_param(panes.nth(1), "temperature", "1.8")
    page.locator("#messages .message").last.locator("[data-m=content]").fill(
        "Describe a cat in one sentence."
    )
    page.keyboard.press("Control+Enter")

    # Both run at once and both stream, each into its own pane.
    expect(page.locator("#panes .pane.is-running")).to_have_count(2)
    for i in range(2):
        expect(panes.nth(i).locator(".stream-text")).not_to_be_empty(timeout=60_000)
    for i in range(2):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Completed", timeout=90_000)
        expect(panes.nth(i).locator(".result .ttft")).to_contain_text("ms")
        expect(panes.nth(i).locator(".result .cost")).to_have_text("—")
    expect(page).to_have_url(re.compile(r"/compare/[0-9a-f-]{36}/$"))
    first = {r.request["temperature"]: r for r in Run.objects.filter(source="compare")}
    assert set(first) == {0, 1.8}
    assert all(r.request["seed"] == 7 and r.request["max_tokens"] == 24 for r in first.values())
    assert first[0].output_text != first[1.8].output_text

    # The diff marks what differs between pane 1 and pane 2.
    page.click("#diff-button")
    expect(page.locator("#diff .diff-text")).to_be_visible()
    assert page.locator("#diff del").count() + page.locator("#diff ins").count() > 0
    assert page.locator("#diff").inner_text().startswith("only in A")

    # A second round: typed once, each pane goes on with its own thread.
    page.fill("#next-message", "Now in three words.")
    page.click("#run-all")
    for i in range(2):
        expect(panes.nth(i).locator(".pane-thread .turn")).to_have_count(2)
    for i in range(2):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Completed", timeout=90_000)
    comparison = Comparison.objects.get()
    rounds = comparison.rounds()
    assert [n for n, _ in rounds] == [1, 2]
    for pane_run in rounds[1][1]:
        sent = pane_run.run.request["messages"]
        own_first = next(r for r in rounds[0][1] if r.pane == pane_run.pane).run
        assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
        assert sent[2]["content"] == own_first.response["choices"][0]["message"]["content"]
        assert sent[3]["content"] == "Now in three words."

    # In history, and it reopens as it was.
    page.goto(f"{app_url}/compare/list/")
    page.click(f"a[href='/compare/{comparison.uuid}/']")
    expect(panes).to_have_count(2)
    expect(page.locator("#next-round")).to_be_visible()
    last = dict(comparison.last_runs())
    for i, pane in enumerate(comparison.panes):
        expect(panes.nth(i).locator(".result .status")).to_have_text("Completed")
        text = last[pane["id"]].output_text.strip().split("\n")[0]
        expect(panes.nth(i).locator(".pane-output")).to_contain_text(text[:20])

    # A snapshot link: another user sees the same outputs, read-only.
    page.click(".share-button")
    link = page.locator(".share-url").input_value()
    other, _ = open_as(page, app_url, teammate, link)
    expect(other.locator(".snapshot-panes .pane")).to_have_count(4)
    for pane_run in [r for _, runs in rounds for r in runs]:
        reply = pane_run.run.output_text.strip().split("\n")[0][:20]
        expect(other.locator(f".pane[data-run='{pane_run.run.uuid}']")).to_contain_text(reply)
    expect(other.locator("#run-all")).to_have_count(0)
    expect(other.locator("textarea")).to_have_count(0)
    # Outsiders without the link see nothing of it.
    stranger, response = open_as(page, app_url, outsider, f"{app_url}/compare/{comparison.uuid}/")
    assert response.status == 404
    # Revoked: the link is gone.
    page.click(".stop-sharing")
    expect(page.locator(".share-button")).to_be_visible()
    assert other.goto(link).status == 404
