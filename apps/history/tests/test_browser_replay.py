"""Re-run from history in a real browser on the embedded model: the same
request again, streamed beside the original with both runs' metrics, and a
word diff of the two outputs."""

import pytest
from playwright.sync_api import expect

from apps.history.models import Run
from apps.providers.models import ensure_local_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def local_model(transactional_db):
    # The test database is flushed between tests; register the embedded model again.
    return ensure_local_provider()


def first_run(page, app_url, model):
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(model.uuid))
    page.fill("[data-prompt]", "Once upon a time")
    for name, value in [("max_tokens", "12"), ("temperature", "1.8")]:
        control = page.locator(f"[data-field={name}]")
        control.evaluate("el => el.closest('details') && (el.closest('details').open = true)")
        control.fill(value)
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=60_000)
    return Run.objects.get()


def test_it_reruns_a_history_run_and_shows_a_word_diff(signed_in, owner, app_url, local_model):
    page = signed_in(owner)
    original = first_run(page, app_url, local_model)

    page.goto(f"{app_url}/history/")
    page.locator(f"a[href='/history/runs/{original.uuid}/']").first.click()
    expect(page).to_have_url(f"{app_url}/history/runs/{original.uuid}/")
    page.click("#replay-button")

    replay = page.locator("#replay")
    expect(replay).to_be_visible()
    # Both runs' metrics, side by side: the original's and the re-run's.
    expect(replay.locator(".replay-original .status")).to_have_text("Completed")
    expect(replay.locator(".replay-new .status")).to_have_text("Completed", timeout=60_000)
    expect(replay.locator(".replay-new .usage")).to_contain_text("completion")
    expect(replay.locator(".replay-original .usage")).to_contain_text("completion")
    expect(replay.locator("#replay-diff .diff-result")).to_be_visible()

    rerun = Run.objects.exclude(pk=original.pk).get()
    assert rerun.request == original.request and rerun.status == Run.COMPLETED
    assert replay.locator("#replay-text").inner_text() == rerun.output_text
    # (What differs is checked on scripted outputs: see the next test.)
    # The re-run is in history with a page of its own.
    replay.locator(".replay-link").click()
    expect(page).to_have_url(f"{app_url}/history/runs/{rerun.uuid}/")


def scripted_run(page, app_url, model):
    """A first run on the test upstream, as scripted: its Run."""
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(model.uuid))
    page.fill("[data-prompt]", "Weather:")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed")
    return Run.objects.get()


def test_it_diffs_a_rerun_that_came_out_different(signed_in, owner, app_url, fake_model,
                                                  upstream):
    upstream.behave(chunks=["The sky ", "is blue ", "today"])
    page = signed_in(owner)
    original = scripted_run(page, app_url, fake_model)

    upstream.behave(chunks=["The sky ", "is grey ", "today"])
    page.goto(f"{app_url}/history/runs/{original.uuid}/")
    page.click("#replay-button")
    replay = page.locator("#replay")
    expect(replay.locator(".replay-new .status")).to_have_text("Completed")
    expect(replay.locator(".diff-summary")).to_contain_text("only in the original")
    expect(replay.locator("#replay-diff .diff-text del")).to_have_text(["blue "])
    expect(replay.locator("#replay-diff .diff-text ins")).to_have_text(["grey "])
    expect(replay.locator(".diff-same")).to_have_count(0)


def test_it_says_why_a_rerun_cannot_start(signed_in, owner, app_url, local_model):
    page = signed_in(owner)
    original = first_run(page, app_url, local_model)
    local_model.enabled = False
    local_model.save()
    page.goto(f"{app_url}/history/runs/{original.uuid}/")
    page.click("#replay-button")
    expect(page.locator("#replay-result")).to_contain_text("model: choose a model that serves")
    expect(page.locator("#replay-button")).to_be_enabled()
    assert Run.objects.count() == 1


@pytest.mark.parametrize("away", ["briefly", "until it ended"])
def test_a_rerun_resumes_after_the_connection_drops(signed_in, owner, app_url, fake_model,
                                                    upstream, away):
    # The re-run goes on on the server while the page's socket is down; back,
    # the page catches up from its last event (or, if the re-run ended
    # meanwhile, is sent it whole from history): every word once, in order.
    from apps.studio.tests.test_browser_resume import (
        KEEP_SOCKETS,
        WORDS,
        drop_until,
        start_completion,
    )

    upstream.behave(chunks=["The sky ", "is blue"])
    page = signed_in(owner)
    page.add_init_script(KEEP_SOCKETS)
    start_completion(page, app_url, fake_model, "Weather:", 100)
    expect(page.locator("#result .status")).to_have_text("Completed")
    original = Run.objects.get()

    upstream.behave(chunks=WORDS, interval=0.05)
    page.goto(f"{app_url}/history/runs/{original.uuid}/")
    page.click("#replay-button")
    replay = page.locator("#replay")
    expect(replay.locator("#replay-text")).to_contain_text("w3 ")
    if away == "briefly":
        page.evaluate("window.__sockets.at(-1).close()")
    else:
        drop_until(page, lambda: Run.objects.filter(status=Run.COMPLETED).count() == 2)
    expect(replay.locator(".replay-new .status")).to_have_text("Completed", timeout=30_000)
    rerun = Run.objects.exclude(pk=original.pk).get()
    assert rerun.output_text == "".join(WORDS)
    assert replay.locator("#replay-text").inner_text() == rerun.output_text
    expect(replay.locator("#replay-diff .diff-result")).to_be_visible()
    assert page.evaluate("window.__sockets.length") >= 2


def test_a_rerun_asked_for_once_signed_out_says_so(signed_in, owner, app_url, fake_model,
                                                   upstream):
    # Signed out since the page loaded (another tab, an expired session):
    # the socket is closed as such, and the page says so, not "connection
    # lost".
    upstream.behave(chunks=["The sky ", "is blue"])
    page = signed_in(owner)
    original = scripted_run(page, app_url, fake_model)
    page.goto(f"{app_url}/history/runs/{original.uuid}/")
    page.context.clear_cookies()
    page.click("#replay-button")
    expect(page.locator("#replay-result")).to_have_text(
        "Signed out: sign in again, then reload to re-run.")
    expect(page.locator("#replay-button")).to_be_enabled()
    assert Run.objects.count() == 1
