"""The tool-call loop in a real browser against the test upstream: a reply that
calls a tool gets a form generated from the tool's JSON schema; sending it
adds the tool message and runs the next turn, all in one conversation; a
result saved as a mock answers the next call on its own."""

import json

import pytest
from playwright.sync_api import expect

from apps.history.models import Conversation, Run
from apps.presets.models import Preset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "Where"},
        "temperature": {"type": "number"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "raining": {"type": "boolean"},
        "wind": {
            "type": "object",
            "properties": {"speed": {"type": "integer"}, "direction": {"type": "string"}},
            "required": ["speed"],
        },
        "hours": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["city", "temperature"],
}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
CALL = [{"name": "get_weather", "arguments": '{"city": "Paris"}'}]


def start_chat(page, app_url, fake_model, question="Weather in Paris?"):
    page.goto(f"{app_url}/")
    page.select_option("select[name=model]", str(fake_model.uuid))
    page.locator("#messages .message").last.locator("[data-m=content]").fill(question)
    tools = page.locator("[data-field=tools]")
    tools.evaluate("el => el.closest('details').open = true")
    tools.fill(json.dumps(TOOLS))


def field(form, path):
    return form.locator(f'.tf-row[data-path="{path}"]')


def test_it_walks_a_tool_call_through_the_generated_form(
    signed_in, owner, app_url, fake_model, upstream
):
    upstream.behave(text="It is 21 degrees in Paris.")
    upstream.behave_once(tool_calls=CALL)
    page = signed_in(owner)
    start_chat(page, app_url, fake_model)
    page.click("#run-button")

    form = page.locator("#result .tool-form")
    expect(form).to_have_count(1)
    expect(form.locator(".tf-head")).to_have_text("Result of get_weather")
    # Required fields are marked; the call's arguments are a place to start.
    expect(field(form, "city").locator(".tf-required")).to_have_count(1)
    expect(field(form, "unit").locator(".tf-required")).to_have_count(0)
    expect(field(form, "city").locator("input")).to_have_value("Paris")
    expect(field(form, "city").locator(".tf-help")).to_have_text("Where")

    # A required number left empty is refused beside its field; nothing runs.
    form.locator(".tf-add").click()
    page.click("#result .tool-loop-send")
    expect(field(form, "temperature").locator(".tf-error")).to_have_text("temperature is required")
    expect(form.locator(".tf-item .tf-error")).to_have_text("hours[0] is required")
    assert len(upstream.requests) == 1

    field(form, "city").locator("input").fill("Paris, France")
    field(form, "temperature").locator("input").fill("21.5")
    field(form, "unit").locator("select").select_option("celsius")
    field(form, "raining").locator("input").check()
    field(form, "wind.speed").locator("input").fill("12")
    field(form, "wind.direction").locator("input").fill("NW")
    hours = form.locator(".tf-item")
    hours.nth(0).locator("input").fill("9")
    form.locator(".tf-add").click()
    form.locator(".tf-add").click()
    hours.nth(1).locator("input").fill("12")
    hours.nth(2).locator("input").fill("99")
    hours.nth(2).locator(".tf-remove").click()
    expect(hours).to_have_count(2)
    page.click("#result .tool-loop-send")

    expect(page.locator("#result .status")).to_have_text("Completed")
    expect(page.locator("#result .tool-form")).to_have_count(0)
    expect(page.locator("#messages .message").last).to_have_attribute("data-role", "user")
    assert len(upstream.requests) == 2
    sent = upstream.last.json["messages"]
    call = sent[-2]["tool_calls"][0]
    assert sent[-2]["role"] == "assistant"
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert sent[-1]["role"] == "tool" and sent[-1]["tool_call_id"] == call["id"]
    assert json.loads(sent[-1]["content"]) == {
        "city": "Paris, France", "temperature": 21.5, "unit": "celsius", "raining": True,
        "wind": {"speed": 12, "direction": "NW"}, "hours": [9, 12],
    }

    # Both turns are one conversation, which keeps the whole loop.
    conversation = Conversation.objects.get()
    assert conversation.runs.count() == 2
    roles = [m["role"] for m in conversation.thread()]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert conversation.thread()[2]["tool_calls"][0]["id"] == call["id"]
    page.reload()
    expect(page.locator("#messages .message[data-role=tool]")).to_have_count(1)


def test_it_refuses_a_wrong_value_beside_its_field_and_takes_raw_json(
    signed_in, owner, app_url, fake_model, upstream
):
    upstream.behave(text="Noted.")
    upstream.behave_once(tool_calls=CALL)
    page = signed_in(owner)
    start_chat(page, app_url, fake_model)
    page.click("#run-button")
    expect(page.locator("#result .tool-form")).to_have_count(1)
    # Reopened (a reload) on the reply that calls the tool, its form is back.
    page.reload()
    form = page.locator("#result .tool-form")
    expect(form).to_have_count(1)
    field(form, "temperature").locator("input").fill("20")
    field(form, "wind.speed").locator("input").fill("2.5")
    # Enter in a field sends the results, never the run form without them.
    field(form, "wind.speed").locator("input").press("Enter")
    expect(field(form, "wind.speed").locator(".tf-error")).to_have_text(
        "wind.speed must be a whole number"
    )
    assert len(upstream.requests) == 1

    # "Edit as JSON" starts from the form's value; what is typed there is sent.
    field(form, "wind.speed").locator("input").fill("3")
    form.locator(".tf-as-json").check()
    raw = form.locator(".tf-raw")
    assert json.loads(raw.input_value()) == {"city": "Paris", "temperature": 20, "raining": False,
                                             "wind": {"speed": 3}, "hours": []}
    raw.fill('{"forecast": ["sun", "rain"]}')
    page.click("#result .tool-loop-send")
    expect(page.locator("#result .status")).to_have_text("Completed")
    assert upstream.last.json["messages"][-1]["content"] == '{"forecast":["sun","rain"]}'


def test_it_replays_a_saved_mock_and_keeps_it_in_the_preset(
    signed_in, owner, app_url, fake_model, upstream
):
    upstream.behave(text="Sunny.")
    upstream.behave_once(tool_calls=CALL)
    page = signed_in(owner)
    start_chat(page, app_url, fake_model)
    page.click("#run-button")
    form = page.locator("#result .tool-form")
    field(form, "temperature").locator("input").fill("30")
    form.locator(".tf-auto").check()  # saves the result as this tool's mock
    expect(form.locator(".tf-mock-status")).to_contain_text("Saved")
    page.click("#result .tool-loop-send")
    expect(page.locator("#result .status")).to_have_text("Completed")

    # The next call to the tool is answered with the mock, without the user.
    upstream.behave_once(tool_calls=CALL)
    page.locator("#messages .message").last.locator("[data-m=content]").fill("And tomorrow?")
    page.click("#run-button")
    expect(page.locator("#messages .message[data-role=tool]")).to_have_count(2)
    expect(page.locator("#result .status")).to_have_text("Completed")
    expect(page.locator("#result .tool-form")).to_have_count(0)
    assert len(upstream.requests) == 4
    mocked = {"city": "Paris", "temperature": 30, "raining": False, "hours": []}
    assert json.loads(upstream.last.json["messages"][-1]["content"]) == mocked
    assert Conversation.objects.count() == 1
    assert Run.objects.count() == 4

    # Save preset keeps the mock beside the body; opening the preset brings it back.
    page.click("#save-preset-button")
    page.fill("#preset-dialog [name=name]", "Weather loop")
    page.click("#preset-dialog .save-new")
    expect(page.locator("#preset-dialog .preset-saved")).to_contain_text("Saved")
    version = Preset.objects.get().latest
    assert version.tool_mocks == {"get_weather": {"result": mocked, "auto": True}}
    assert "tool_mocks" not in version.body

    upstream.behave_once(tool_calls=CALL)
    page.goto(f"{app_url}/presets/{version.preset.uuid}/open/")
    page.locator("#messages .message").last.locator("[data-m=content]").fill("Weather?")
    page.click("#run-button")
    expect(page.locator("#result .status")).to_have_text("Completed")
    expect(page.locator("#result .finish-reason")).to_have_text("stop")
    assert json.loads(upstream.last.json["messages"][-1]["content"]) == mocked


ROUND_TRIPS = [
    # (schema, a value to start from): the form shows it and reads it back as it was.
    (WEATHER, {"city": "Oslo", "temperature": -3.5, "unit": "fahrenheit", "raining": True,
               "wind": {"speed": 40, "direction": "N"}, "hours": [1, 2, 3]}),
    ({"type": "object", "properties": {
        "level": {"enum": [1, 2.5, "max", None]},
        "note": {"type": ["string", "null"]},
        "points": {"type": "array", "items": {
            "type": "object", "properties": {"x": {"type": "number"}, "tag": {"type": "string"}},
            "required": ["x"]}},
        "extra": {"anyOf": [{"type": "string"}, {"type": "object"}]},
    }}, {"level": 2.5, "note": "n", "points": [{"x": 1, "tag": "a"}, {"x": 2}],
         "extra": {"free": ["form", 1]}}),
    ({"type": "array", "items": {"type": "string"}}, ["a", "b"]),
    ({"type": "integer"}, 7),
    ({}, {"anything": [1, "two"]}),
]


def test_it_reads_back_what_each_kind_of_schema_shows(signed_in, owner, app_url):
    page = signed_in(owner)
    page.goto(f"{app_url}/")
    for schema, value in ROUND_TRIPS:
        read = page.evaluate("""([schema, value]) => {
            const form = ToolForm.build(schema, value);
            document.body.append(form.el);
            return form.read();
        }""", [schema, value])
        assert read == {"value": value, "errors": []}, schema

    # Defaults fill an empty form; unset optional fields are left out.
    read = page.evaluate("""() => ToolForm.build({type: "object", properties: {
        n: {type: "integer", default: 3}, s: {type: "string"}, e: {enum: ["a", "b"], default: "b"},
        o: {type: "object", properties: {deep: {type: "string"}}, required: ["deep"]},
    }}).read()""")
    assert read == {"value": {"n": 3, "e": "b"}, "errors": []}
    # Limits from the schema are checked and named.
    read = page.evaluate("""() => {
        const form = ToolForm.build({type: "object", properties: {
            p: {type: "number", minimum: 0, maximum: 1}}}, {p: 2});
        return form.read();
    }""")
    assert read["errors"] == ["p must be at most 1"]


def test_it_shows_what_the_model_sent_as_text(signed_in, owner, app_url, fake_model, upstream):
    trap = "<img src=x onerror=alert(1)>"
    upstream.behave_once(tool_calls=[{"name": "get_weather",
                                      "arguments": json.dumps({"city": trap})}])
    page = signed_in(owner)
    start_chat(page, app_url, fake_model)
    page.click("#run-button")
    form = page.locator("#result .tool-form")
    expect(field(form, "city").locator("input")).to_have_value(trap)
    assert form.locator("img").count() == 0


def test_it_stops_replying_on_its_own_after_five_turns(
    signed_in, owner, app_url, fake_model, upstream
):
    upstream.behave(tool_calls=CALL)  # a model that calls the tool for ever
    page = signed_in(owner)
    start_chat(page, app_url, fake_model)
    page.click("#run-button")
    form = page.locator("#result .tool-form")
    field(form, "temperature").locator("input").fill("1")
    form.locator(".tf-auto").check()
    page.click("#result .tool-loop-send")
    expect(page.locator("#result .tool-loop-status")).to_have_text(
        "Stopped after 5 automatic turns in a row; send to go on."
    )
    assert len(upstream.requests) == 7
    expect(page.locator("#messages .message[data-role=tool]")).to_have_count(6)


def test_it_answers_parallel_calls_with_one_tool_message_each(
    signed_in, owner, app_url, fake_model, upstream
):
    upstream.behave(text="Done.")
    upstream.behave_once(tool_calls=[CALL[0], {"name": "unknown_tool", "arguments": '{"q": 1}'}])
    page = signed_in(owner)
    start_chat(page, app_url, fake_model)
    page.click("#run-button")
    forms = page.locator("#result .tool-form")
    expect(forms).to_have_count(2)
    field(forms.nth(0), "temperature").locator("input").fill("18")
    # A tool the request did not declare has no schema: its result is JSON text.
    unknown = forms.nth(1)
    expect(unknown.locator(".tf-head")).to_contain_text("not among the tools")
    expect(unknown.locator("textarea").first).to_have_value('{\n  "q": 1\n}')
    unknown.locator("textarea").first.fill('"found"')
    page.click("#result .tool-loop-send")
    expect(page.locator("#result .status")).to_have_text("Completed")
    sent = upstream.last.json["messages"]
    ids = [c["id"] for c in sent[-3]["tool_calls"]]
    assert [(m["role"], m["tool_call_id"]) for m in sent[-2:]] == [("tool", i) for i in ids]
    assert json.loads(sent[-2]["content"])["temperature"] == 18
    assert sent[-1]["content"] == '"found"'


@pytest.mark.parametrize("name", ["constructor", "toString", "__proto__"])
def test_it_knows_no_mock_for_a_tool_named_like_an_object_method(
    signed_in, owner, app_url, fake_model, upstream, name
):
    upstream.behave_once(tool_calls=[{"name": name, "arguments": '{"city": "Paris"}'}])
    page = signed_in(owner)
    start_chat(page, app_url, fake_model)
    page.click("#run-button")
    form = page.locator("#result .tool-form")
    expect(form).to_be_visible()
    # No saved mock: nothing to forget, and the model's arguments to start from.
    expect(form.locator(".tf-forget-mock")).to_be_hidden()
    expect(form.locator(".tf-auto")).not_to_be_checked()
    assert page.evaluate("() => Object.keys(ToolForm.mocks).length") == 0
