"""A run outlives the page that started it: a reload, a dropped connection,
a second tab (real Chromium against a live daphne; the embedded model where a
real model is needed, the test upstream where timing must be exact)."""

import re
import time

import pytest
from playwright.sync_api import expect

from apps.history.models import Run
from apps.providers.models import ensure_local_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = [f"w{i} " for i in range(30)]


@pytest.fixture
def local_model(transactional_db):
    return ensure_local_provider()


def start_completion(page, app_url, model, prompt, max_tokens):
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(model.uuid))
    page.fill("[data-prompt]", prompt)
    control = page.locator("[data-field=max_tokens]")
    control.evaluate("el => el.closest('details') && (el.closest('details').open = true)")
    control.fill(str(max_tokens))
    page.click("#run-button")


def output(page):
    return page.locator("#output .stream-text").first


def test_a_reload_mid_stream_shows_the_text_so_far_and_streams_the_rest(
    signed_in, owner, app_url, local_model
):
    page = signed_in(owner)
    start_completion(page, app_url, local_model, "Once upon a time", 160)
    # Some text, well before the end: then reload.
    expect(output(page)).to_have_text(re.compile(r".{24}", re.S), timeout=60_000)
    page.wait_for_url("**/c/*/")
    page.reload()

    # The text so far is there at once, and the rest streams in.
    expect(output(page)).not_to_be_empty()
    expect(page.locator("#stop-button")).to_be_enabled()
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=90_000)
    run = Run.objects.get()
    assert run.status == Run.COMPLETED
    assert output(page).inner_text() == run.output_text
    assert run.completion_tokens == 160 or run.response["choices"][0]["finish_reason"] == "stop"


def test_stop_works_after_a_reload(signed_in, owner, app_url, fake_model, upstream):
    # The test upstream, not the embedded model: a small model may end its
    # story before the reload, and this is about Stop.
    upstream.behave(chunks=WORDS, interval=0.2)
    page = signed_in(owner)
    start_completion(page, app_url, fake_model, "count", 100)
    expect(output(page)).to_contain_text("w1 ")
    page.wait_for_url("**/c/*/")
    page.reload()
    expect(output(page)).to_contain_text("w2 ")
    page.click("#stop-button")
    expect(page.locator("#result .status")).to_have_text("Cancelled", timeout=30_000)
    assert upstream.wait_disconnect(1.0)
    run = Run.objects.get()
    assert run.status == Run.CANCELLED
    assert run.output_text and output(page).inner_text() == run.output_text
    assert "w29" not in run.output_text


# Keeps every WebSocket the page opens, so a test can drop one as a network
# would; while window.__refuse is set, every new one fails to connect (to a
# closed port), as while the network is down.
KEEP_SOCKETS = """
(() => {
  const Real = window.WebSocket;
  window.__sockets = [];
  window.__refuse = false;
  window.WebSocket = function (url, ...rest) {
    const s = new Real(window.__refuse ? "ws://127.0.0.1:9/" : url, ...rest);
    window.__sockets.push(s);
    return s;
  };
  window.WebSocket.prototype = Real.prototype;
  Object.assign(window.WebSocket, {
    OPEN: Real.OPEN, CLOSED: Real.CLOSED, CONNECTING: Real.CONNECTING,
  });
})();
"""


def test_the_page_reconnects_after_a_drop_and_misses_nothing(
    signed_in, owner, app_url, fake_model, upstream
):
    upstream.behave(chunks=WORDS, interval=0.1)
    page = signed_in(owner)
    page.add_init_script(KEEP_SOCKETS)
    start_completion(page, app_url, fake_model, "count", 100)
    expect(output(page)).to_contain_text("w3 ")
    page.evaluate("window.__sockets.at(-1).close()")
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=30_000)
    # Every word once, in order: nothing shown twice, nothing missed.
    assert output(page).inner_text() == "".join(WORDS)
    assert page.evaluate("window.__sockets.length") >= 2
    assert Run.objects.get().output_text == "".join(WORDS)


def test_a_second_tab_watches_the_same_run(signed_in, owner, app_url, fake_model, upstream):
    upstream.behave(chunks=WORDS, interval=0.1)
    page = signed_in(owner)
    start_completion(page, app_url, fake_model, "count", 100)
    expect(output(page)).to_contain_text("w2 ")
    page.wait_for_url("**/c/*/")
    other = page.context.new_page()
    other.goto(page.url)
    expect(output(other)).to_contain_text("w0 w1 w2 ")
    expect(other.locator("#result .status")).to_have_text("Completed", timeout=30_000)
    expect(page.locator("#result .status")).to_have_text("Completed")
    assert output(other).inner_text() == output(page).inner_text() == "".join(WORDS)
    assert Run.objects.count() == 1


def page_with_a_run_to_branch_from(page, app_url, model, upstream):
    """The completions page with a finished run whose tokens have logprobs
    (the test upstream's "a b c"), its socket kept (KEEP_SOCKETS)."""
    upstream.behave(chunks=["a ", "b ", "c "])
    page.add_init_script(KEEP_SOCKETS)
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(model.uuid))
    page.fill("[data-prompt]", "count")
    for field, value in (("max_tokens", "100"), ("logprobs", "2")):
        control = page.locator(f"[data-field={field}]")
        control.evaluate("el => el.closest('details') && (el.closest('details').open = true)")
        control.fill(value)
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=30_000)
    return page


def branch_from_the_second_token(page):
    """Branch from the first alternative of the run's second token: (the
    branch's column, the chosen token)."""
    page.locator("#output .choice[data-index='0'] .token[data-prob]").nth(1).click()
    branch_button = page.locator(".alt-panel .alt-branch").first
    chosen = branch_button.get_attribute("data-token")
    branch_button.click()
    return page.locator("#output .choice.branch"), chosen


def test_a_branch_resumes_after_a_drop_and_misses_nothing(
    signed_in, owner, app_url, fake_model, upstream
):
    # A branch is a run of its own: a dropped connection costs it nothing
    # either; the page resumes it from its last event once it reconnects.
    page = page_with_a_run_to_branch_from(signed_in(owner), app_url, fake_model, upstream)

    upstream.behave(chunks=WORDS, interval=0.1)
    branch, chosen = branch_from_the_second_token(page)
    expect(branch.locator(".stream-text")).to_contain_text("w3 ")
    page.evaluate("window.__sockets.at(-1).close()")
    expect(branch.locator(".branch-result .status")).to_have_text("Completed", timeout=30_000)

    assert branch.locator(".stream-text").inner_text() == chosen + "".join(WORDS)
    assert page.evaluate("window.__sockets.length") >= 2
    run = Run.objects.order_by("created").last()
    assert run.status == Run.COMPLETED and run.output_text == "".join(WORDS)


def drop_until(page, done):
    """Drop the page's socket and keep it from connecting until done()."""
    page.evaluate("window.__refuse = true; window.__sockets.at(-1).close()")
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, "the run did not end while the page was away"
        time.sleep(0.1)
    page.evaluate("window.__refuse = false")


def test_a_run_that_ended_while_the_page_was_away_is_shown_once(
    signed_in, owner, app_url, fake_model, upstream
):
    # The run ends while the socket is down: back, the page is sent the
    # stored run whole, and shows it instead of what it had (not after it).
    upstream.behave(chunks=WORDS, interval=0.05)
    page = signed_in(owner)
    page.add_init_script(KEEP_SOCKETS)
    start_completion(page, app_url, fake_model, "count", 100)
    expect(output(page)).to_contain_text("w3 ")
    drop_until(page, lambda: Run.objects.filter(status=Run.COMPLETED).exists())
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=30_000)
    assert output(page).inner_text() == "".join(WORDS)
    assert page.locator("#output .choice[data-index]").count() == 1


def test_a_branch_that_ended_while_the_page_was_away_is_shown_once(
    signed_in, owner, app_url, fake_model, upstream
):
    page = page_with_a_run_to_branch_from(signed_in(owner), app_url, fake_model, upstream)

    upstream.behave(chunks=WORDS, interval=0.05)
    branch, chosen = branch_from_the_second_token(page)
    expect(branch.locator(".stream-text")).to_contain_text("w3 ")
    drop_until(page, lambda: Run.objects.filter(status=Run.COMPLETED).count() == 2)
    expect(branch.locator(".branch-result .status")).to_have_text("Completed", timeout=30_000)
    assert branch.locator(".stream-text").inner_text() == chosen + "".join(WORDS)
    assert branch.locator(".choice-tokens").inner_text() == f"{len(WORDS)} tokens"


def test_a_run_started_while_the_page_is_away_still_stops_its_branches(
    signed_in, owner, app_url, fake_model, upstream
):
    # Run pressed while the socket is down: the new run replaces the output,
    # so the branch still streaming is stopped (cancelled, not left to run
    # on), and both messages go out, in order, once the page is back.
    page = page_with_a_run_to_branch_from(signed_in(owner), app_url, fake_model, upstream)

    upstream.behave(chunks=[f"x{i} " for i in range(100)], interval=0.1)
    branch, _ = branch_from_the_second_token(page)
    expect(branch.locator(".stream-text")).to_contain_text("x2 ")
    page.evaluate("window.__refuse = true; window.__sockets.at(-1).close()")
    upstream.behave(chunks=["new "])
    page.click("#run-button")
    page.evaluate("window.__refuse = false")
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=30_000)
    expect(output(page)).to_have_text("new")
    branch = Run.objects.order_by("created")[1]
    deadline = time.monotonic() + 10
    while branch.status == Run.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
        branch.refresh_from_db()
    assert branch.status == Run.CANCELLED
    assert "x99" not in branch.output_text


def test_a_branch_asked_for_while_the_page_is_away_and_replaced_is_never_sent(
    signed_in, owner, app_url, fake_model, upstream
):
    # Branch pressed while the socket is down, then Run: the new run replaces
    # the output, branch and all, so the branch's request (still waiting on
    # the page) is taken back rather than sent and stopped.
    page = page_with_a_run_to_branch_from(signed_in(owner), app_url, fake_model, upstream)
    page.evaluate("window.__refuse = true; window.__sockets.at(-1).close()")
    branch, _ = branch_from_the_second_token(page)
    expect(branch.locator(".branch-result")).to_have_text("Connecting…")
    upstream.behave(chunks=["new "])
    page.click("#run-button")
    page.evaluate("window.__refuse = false")
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=30_000)
    expect(output(page)).to_have_text("new")
    assert Run.objects.count() == 2  # the first run and the new one: no branch
    assert len(upstream.requests) == 2


def test_a_page_signed_out_while_a_run_streams_says_so_and_stops_retrying(
    signed_in, owner, app_url, fake_model, upstream
):
    upstream.behave(chunks=WORDS, interval=0.1)
    page = signed_in(owner)
    page.add_init_script(KEEP_SOCKETS)
    start_completion(page, app_url, fake_model, "count", 100)
    expect(output(page)).to_contain_text("w1 ")
    page.context.clear_cookies()  # signed out (another tab, an expired session)
    page.evaluate("window.__sockets.at(-1).close()")
    expect(page.locator("#run-status")).to_have_text(
        "Signed out: sign in again, then reload to follow the run.")
    sockets = page.evaluate("window.__sockets.length")
    page.wait_for_timeout(1500)  # past the first retries' delays
    assert page.evaluate("window.__sockets.length") == sockets
