"""The playground in a real browser (Debian Chromium via Playwright) against a
live daphne server: the embedded model for real runs, the test upstream where
a test needs the upstream to misbehave."""

import re

import pytest
from playwright.sync_api import expect

from apps.history.models import Run
from apps.providers.models import Model, ensure_local_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def local_model(transactional_db):
    # The test database is flushed between tests; register the embedded model again.
    return ensure_local_provider()


def choose_model(page, model):
    page.select_option("select[name=model]", str(model.uuid))


def set_field(page, name, value):
    control = page.locator(f"[data-field={name}]")
    control.evaluate("el => el.closest('details') && (el.closest('details').open = true)")
    control.fill(value)


def test_it_streams_a_completion_from_the_embedded_model(signed_in, owner, app_url, local_model):
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    choose_model(page, local_model)
    page.fill("[data-prompt]", "The capital of France is")
    set_field(page, "max_tokens", "12")
    set_field(page, "seed", "7")
    page.click("#run-button")

    # Tokens arrive before the run is done: Stop is enabled while text grows.
    expect(page.locator("#output .stream-text")).not_to_be_empty()
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=60_000)
    expect(page.locator("#result .ttft")).to_contain_text("ms")
    expect(page.locator("#result .finish-reason")).to_have_text(re.compile("length|stop"))

    run = Run.objects.get()
    assert run.status == Run.COMPLETED
    assert run.request["prompt"] == "The capital of France is"
    assert run.request["max_tokens"] == 12
    assert page.locator("#output .stream-text").inner_text() == run.output_text
    # The URL now names the conversation: a reload finds it as it was.
    page.reload()
    expect(page.locator("[data-prompt]")).to_have_value("The capital of France is")
    expect(page.locator("#output .stream-text")).to_have_text(run.output_text)
    expect(page.locator("[data-field=max_tokens]")).to_have_value("12")


def test_it_holds_a_three_turn_chat_with_the_embedded_model(signed_in, owner, app_url, local_model):
    page = signed_in(owner)
    page.goto(f"{app_url}/")
    choose_model(page, local_model)
    set_field(page, "max_tokens", "16")
    for turn, question in enumerate(["Hello!", "What is 2+2?", "Thanks, bye."], start=1):
        page.locator("#messages .message").last.locator("[data-m=content]").fill(question)
        page.keyboard.press("Control+Enter")
        expect(page.locator("#result .status")).to_have_text("Completed", timeout=60_000)
        # The reply joined the thread and an empty user turn waits.
        expect(page.locator("#messages .message[data-role=assistant]")).to_have_count(turn)
        expect(page.locator("#messages .message").last).to_have_attribute("data-role", "user")

    assert Run.objects.filter(status=Run.COMPLETED).count() == 3
    last = Run.objects.order_by("-created").first()
    sent = last.request["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert sent[-1]["content"] == "Thanks, bye."

    page.reload()
    expect(page.locator("#messages .message[data-role=assistant]")).to_have_count(3)


def test_it_stops_a_run_and_history_shows_it(signed_in, owner, app_url, fake_model, upstream):
    upstream.behave(chunks=["first ", "second "], stall_after=2)
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    choose_model(page, fake_model)
    page.fill("[data-prompt]", "Count")
    page.click("#run-button")
    expect(page.locator("#output .stream-text")).to_have_text("first second ")
    page.keyboard.press("Escape")
    expect(page.locator("#result .status")).to_have_text("Cancelled")
    assert upstream.wait_disconnect(2.0)

    page.goto(f"{app_url}/history/")
    row = page.locator(".run-row").first
    expect(row.locator(".status")).to_have_text("Cancelled")
    expect(row).to_contain_text("first second")


def test_it_shows_a_validation_error_beside_its_field(signed_in, owner, app_url, fake_model):
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    choose_model(page, fake_model)
    page.fill("[data-prompt]", "Hi")
    set_field(page, "temperature", "7")
    page.click("#run-button")
    expect(page.locator("[data-error-for=temperature]")).to_have_text(
        "temperature must be between 0 and 2"
    )
    assert not Run.objects.exists()


def test_it_shows_model_output_as_text_never_as_markup(
    signed_in, owner, app_url, fake_model, upstream
):
    evil = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    upstream.behave(chunks=[evil[:20], evil[20:]])
    page = signed_in(owner)
    for path in ["/completions/", "/"]:
        page.goto(f"{app_url}{path}")
        choose_model(page, fake_model)
        if path == "/":
            page.locator("#messages .message").last.locator("[data-m=content]").fill("hi")
        else:
            page.fill("[data-prompt]", "hi")
        page.click("#run-button")
        expect(page.locator("#result .status")).to_have_text("Completed")
        assert page.evaluate("window.pwned") is None
        assert page.locator("#output img").count() == 0
        if path == "/completions/":
            expect(page.locator("#output .stream-text")).to_have_text(evil)
        else:
            # The finished chat reply is sanitized markdown: no live tags survive.
            assert page.locator("#output script, #output [onerror]").count() == 0


def test_it_lists_only_enabled_models(signed_in, owner, app_url, fake_model):
    Model.objects.filter(pk=fake_model.pk).update(enabled=False)
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    expect(page.locator("select[name=model] option", has_text="Echo")).to_have_count(0)


def test_it_shows_each_choice_in_its_own_column(signed_in, owner, app_url, fake_model, upstream):
    upstream.behave(choices=[["left ", "side"], ["right ", "side"]])
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    choose_model(page, fake_model)
    page.fill("[data-prompt]", "two please")
    set_field(page, "n", "2")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed")
    columns = page.locator("#output .choice")
    expect(columns).to_have_count(2)
    expect(columns.nth(0).locator(".stream-text")).to_have_text("left side")
    expect(columns.nth(1).locator(".stream-text")).to_have_text("right side")


def test_it_shows_token_probabilities_on_hover(signed_in, owner, app_url, local_model):
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    choose_model(page, local_model)
    page.fill("[data-prompt]", "One, two, three,")
    set_field(page, "max_tokens", "5")
    set_field(page, "logprobs", "3")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed", timeout=60_000)
    tokens = page.locator("#output .token[data-prob]")
    assert tokens.count() >= 1
    title = tokens.first.get_attribute("title")
    # The chosen token with its probability, then the alternatives, one a line.
    assert "%" in title.splitlines()[0]
    assert len(title.splitlines()) >= 2
    run = Run.objects.get()
    assert run.response["choices"][0]["logprobs"]["tokens"]


def test_it_shows_tool_calls_and_adds_the_tool_result_message(
    signed_in, owner, app_url, fake_model, upstream
):
    upstream.behave(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Paris"}'}])
    page = signed_in(owner)
    page.goto(f"{app_url}/")
    choose_model(page, fake_model)
    page.locator("#messages .message").last.locator("[data-m=content]").fill("Weather in Paris?")
    tools = (
        '[{"type": "function", "function": '
        '{"name": "get_weather", "parameters": {"type": "object"}}}]'
    )
    page.locator("[data-field=tools]").evaluate("el => el.closest('details').open = true")
    page.fill("[data-field=tools]", tools)
    page.click("#run-button")
    call = page.locator("#result .tool-call")
    expect(call).to_contain_text("get_weather")
    expect(call.locator("pre")).to_have_text('{\n  "city": "Paris"\n}')
    call_id = call.get_attribute("data-id")
    assert call_id

    # The assistant turn with its tool_calls joined the thread; add the result.
    expect(page.locator("#messages .message[data-role=assistant]")).to_have_count(1)
    call.locator(".add-tool-result").click()
    tool_row = page.locator("#messages .message").last
    expect(tool_row).to_have_attribute("data-role", "tool")
    expect(tool_row.locator("[data-m=tool_call_id]")).to_have_value(call_id)

    tool_row.locator("[data-m=content]").fill('{"temperature": 21}')
    upstream.behave(text="It is 21 degrees.")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed")
    sent = upstream.last.json["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == call_id
    assert sent[-1] == {"role": "tool", "content": '{"temperature": 21}', "tool_call_id": call_id}


def test_it_says_a_number_field_holds_no_number(signed_in, owner, app_url, fake_model):
    page = signed_in(owner)
    page.goto(f"{app_url}/completions/")
    choose_model(page, fake_model)
    page.fill("[data-prompt]", "Hi")
    control = page.locator("[data-field=temperature]")
    control.focus()
    page.keyboard.type("1e")  # a number input holds "" for this: not the same as unset
    page.click("#run-button")
    expect(page.locator("[data-error-for=temperature]")).to_have_text(
        "temperature must be a number"
    )
    expect(page.locator("#run-button")).to_be_enabled()
    assert not Run.objects.exists()
