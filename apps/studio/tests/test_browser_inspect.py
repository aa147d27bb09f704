"""Inspecting output in a real browser on the embedded model: the logprob
heatmap, its alternatives and branching from one; the candidates grid with
its word diff."""

import re

import pytest
from playwright.sync_api import expect

from apps.history.models import Run
from apps.providers.models import ensure_local_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def local_model(transactional_db):
    # The test database is flushed between tests; register the embedded model again.
    return ensure_local_provider()


def set_field(page, name, value):
    control = page.locator(f"[data-field={name}]")
    control.evaluate("el => el.closest('details') && (el.closest('details').open = true)")
    if control.evaluate("el => el.tagName") == "SELECT":
        control.select_option(value)
    else:
        control.fill(value)


def completions_page(page, app_url, model, prompt="The capital of France is"):
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(model.uuid))
    page.fill("[data-prompt]", prompt)
    set_field(page, "seed", "7")


def test_it_tints_tokens_lists_alternatives_and_branches_from_one(
    signed_in, owner, app_url, local_model
):
    page = signed_in(owner)
    completions_page(page, app_url, local_model)
    set_field(page, "max_tokens", "8")
    set_field(page, "logprobs", "3")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=60_000)

    # Every token is a tinted, focusable span; a legend says what tints mean.
    tokens = page.locator("#output .choice[data-index='0'] .token[data-prob]")
    expect(tokens).to_have_count(8)
    expect(page.locator(".heat-legend")).to_contain_text("Token probability")
    assert page.locator(".heat-legend .token").count() == 5
    backgrounds = tokens.evaluate_all("els => els.map(e => getComputedStyle(e).backgroundColor)")
    bands = tokens.evaluate_all("els => els.map(e => Number(e.dataset.band))")
    tinted = [bg for bg, band in zip(backgrounds, bands, strict=True) if band > 0]
    assert tinted and all(bg != "rgba(0, 0, 0, 0)" for bg in tinted)

    # The probability is text on keyboard focus, not only a colour.
    first = tokens.first
    first.focus()
    assert re.fullmatch(r"\d+(\.\d+)?%", first.get_attribute("data-prob"))
    after = first.evaluate("el => getComputedStyle(el, '::after').content")
    assert first.get_attribute("data-prob") in after
    page.keyboard.press("ArrowRight")
    expect(tokens.nth(1)).to_be_focused()

    # Enter (or a click) opens the alternatives with their probabilities.
    page.keyboard.press("Enter")
    panel = page.locator(".alt-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("li")).to_have_count(3)
    expect(panel.locator(".alt-sampled")).to_have_count(1)
    expect(panel.locator(".alt-prob").first).to_have_text(re.compile(r"\d+(\.\d+)?%"))
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)
    expect(tokens.nth(1)).to_be_focused()

    tokens.nth(1).click()
    branch_button = panel.locator(".alt-branch").first
    chosen = branch_button.get_attribute("data-token")
    prefix = tokens.nth(0).inner_text()
    branch_button.click()

    # A second run streams beside the original, starting with the chosen token.
    branch = page.locator("#output .choice.branch")
    expect(branch).to_have_count(1)
    expect(branch.locator(".branch-result .status")).to_have_text("Completed", timeout=60_000)
    expect(page.locator("#output .choice[data-index='0'] .token[data-prob]")).to_have_count(8)
    text = branch.locator(".stream-text").inner_text()
    assert text.startswith(chosen)
    assert branch.locator(".stream-text .token[data-prob]").count() > 0

    # Kept in history: the prompt is the original's plus the text before the token plus the choice.
    runs = list(Run.objects.order_by("created"))
    assert len(runs) == 2 and runs[1].status == Run.COMPLETED
    assert runs[1].request["prompt"] == f"The capital of France is{prefix}{chosen}"
    assert text == chosen + runs[1].output_text
    page.goto(f"{app_url}/history/")
    expect(page.locator(".run-row")).to_have_count(2)

    # Reopened, the original shows its heatmap again, and branches still.
    page.go_back()
    tokens = page.locator("#output .choice[data-index='0'] .token[data-prob]")
    expect(tokens).to_have_count(8)
    expect(page.locator("#output .choice-finish")).to_have_text(re.compile("finish: (length|stop)"))
    tokens.nth(1).click()
    expect(page.locator(".alt-panel li")).to_have_count(3)
    page.locator(".alt-panel .alt-branch").first.click()
    expect(page.locator(".branch .branch-result .status")).to_have_text("Completed", timeout=60_000)
    assert Run.objects.order_by("created").last().request["prompt"] == runs[1].request["prompt"]


def test_it_branches_a_chat_reply_as_an_assistant_prefix(signed_in, owner, app_url, local_model):
    page = signed_in(owner)
    page.goto(f"{app_url}/")
    page.select_option("select[name=model]", str(local_model.uuid))
    page.locator("#messages .message").last.locator("[data-m=content]").fill("Name a colour.")
    set_field(page, "max_tokens", "6")
    set_field(page, "seed", "7")
    set_field(page, "logprobs", "true")
    set_field(page, "top_logprobs", "3")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=60_000)
    tokens = page.locator("#output .choice[data-index='0'] .token[data-prob]")
    expect(tokens).to_have_count(6)

    tokens.nth(2).click()
    button = page.locator(".alt-panel .alt-branch").first
    chosen = button.get_attribute("data-token")
    prefix = "".join(tokens.nth(i).inner_text() for i in range(2))
    button.click()
    branch = page.locator("#output .choice.branch")
    expect(branch.locator(".branch-result .status")).to_have_text("Completed", timeout=60_000)
    assert branch.locator(".stream-text").inner_text().startswith(chosen)

    branched = Run.objects.order_by("created").last()
    assert branched.request["messages"][-1] == {"role": "assistant", "content": prefix + chosen}
    # The original conversation's thread is untouched: the branch has its own.
    original = Run.objects.order_by("created").first()
    assert branched.conversation_id != original.conversation_id


def test_it_shows_candidates_side_by_side_with_a_word_diff(signed_in, owner, app_url, local_model):
    page = signed_in(owner)
    completions_page(page, app_url, local_model, "Once upon a time")
    set_field(page, "max_tokens", "12")
    set_field(page, "temperature", "1.5")
    set_field(page, "n", "2")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=60_000)

    columns = page.locator("#output .choice[data-index]")
    expect(columns).to_have_count(2)
    boxes = [columns.nth(i).bounding_box() for i in range(2)]
    assert boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"]  # side by side
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 1
    for i in range(2):
        column = columns.nth(i)
        expect(column.locator(".choice-finish")).to_have_text(re.compile("finish: (length|stop)"))
        expect(column.locator(".choice-tokens")).to_have_text(re.compile(r"~?\d+ tokens?"))

    # Choice 0 against choice 1 straight away, word by word.
    # (What differs is checked on scripted outputs: see the next test.)
    diff = page.locator(".candidates-diff")
    expect(diff.locator(".diff-result")).to_be_visible()
    # Any two: choice 1 against itself is identical.
    diff.locator("select[name=candidate-a]").select_option("1")
    expect(diff.locator(".diff-same")).to_have_text("The two outputs are identical.")

    # A reload shows the candidates and their diff again.
    page.reload()
    expect(page.locator("#output .choice[data-index]")).to_have_count(2)
    expect(page.locator(".candidates-diff .diff-result")).to_be_visible()


def test_it_diffs_two_different_candidates_word_by_word(signed_in, owner, app_url, fake_model,
                                                       upstream):
    upstream.behave(choices=[["The sky ", "is blue ", "today"], ["The sky ", "is grey ", "today"]])
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(fake_model.uuid))
    page.fill("[data-prompt]", "Weather:")
    set_field(page, "n", "2")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed")
    diff = page.locator(".candidates-diff")
    expect(diff.locator("del")).to_have_text(["only in choice 0", "blue "])
    expect(diff.locator("ins")).to_have_text(["only in choice 1", "grey "])
    expect(diff.locator(".diff-summary")).to_contain_text("1 word removed, 1 added")


def test_it_stops_a_branch_on_its_own(signed_in, owner, app_url, fake_model, upstream):
    upstream.behave(chunks=["one ", "two ", "three "])
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(fake_model.uuid))
    page.fill("[data-prompt]", "Count:")
    set_field(page, "logprobs", "2")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed")

    # The branch streams a word, then the upstream stalls until it is stopped.
    upstream.behave(chunks=["four ", "five "], stall_after=1)
    page.locator("#output .token[data-prob]").nth(1).click()
    page.locator(".alt-panel .alt-branch").first.click()
    branch = page.locator("#output .choice.branch")
    expect(branch.locator(".stream-text")).to_have_text("two~1four ")
    assert upstream.requests[-1].json["prompt"] == "Count:one two~1"
    branch.locator(".branch-stop").click()
    expect(branch.locator(".branch-result .status")).to_have_text("Cancelled")
    assert upstream.wait_disconnect(2.0)
    # The page's own run is untouched.
    expect(page.locator("#result .status")).to_have_text("Completed")


def test_a_new_run_stops_the_branches_it_replaces(signed_in, owner, app_url, fake_model,
                                                  upstream):
    upstream.behave(chunks=["one ", "two ", "three "])
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    page.select_option("select[name=model]", str(fake_model.uuid))
    page.fill("[data-prompt]", "Count:")
    set_field(page, "logprobs", "2")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed")
    upstream.behave(chunks=["four ", "five "], stall_after=1)
    page.locator("#output .token[data-prob]").nth(1).click()
    page.locator(".alt-panel .alt-branch").first.click()
    branch = page.locator("#output .choice.branch")
    expect(branch.locator(".stream-text")).to_have_text("two~1four ")
    expect(page.locator(".heat-legend")).to_have_count(1)

    # Run again: the branch's column goes, and its run is stopped with it
    # rather than streaming on with no Stop on the page.
    upstream.behave(chunks=["six "])
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed")
    expect(branch).to_have_count(0)
    assert upstream.wait_disconnect(2.0)
    # Kept in history as stopped by the user (not failed on a stall later).
    branched = Run.objects.get(request__prompt="Count:one two~1")
    for _ in range(100):
        if branched.status != Run.RUNNING:
            break
        page.wait_for_timeout(50)
        branched.refresh_from_db()
    assert branched.status == Run.CANCELLED

    # A run refused before it starts leaves no legend of the last one behind.
    fake_model.enabled = False
    fake_model.save()
    page.click("#run-button")
    expect(page.locator(".field-error").first).to_contain_text("choose a model")
    expect(page.locator(".heat-legend")).to_have_count(0)
