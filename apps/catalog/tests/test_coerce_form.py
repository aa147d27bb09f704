import json

import pytest
from django.http import QueryDict

from apps.catalog import ValidationFailed, coerce_form


def form(**fields):
    query = QueryDict(mutable=True)
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            query.appendlist(name, item)
    return query


def failure(endpoint, data) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        coerce_form(endpoint, data)
    return [(e.field, e.message) for e in caught.value.errors]


CHAT = {"model": "m", "messages": '[{"role": "user", "content": "hi"}]'}


def test_it_turns_a_completions_form_into_a_clean_body():
    data = form(model="m", prompt="Say hi", temperature="0.7", max_tokens="16", top_p="1",
                echo="on", stream="false", seed="-3", logprobs="", suffix="",
                csrfmiddlewaretoken="abc")
    assert coerce_form("completions", data) == {
        "model": "m", "prompt": "Say hi", "temperature": 0.7, "top_p": 1, "seed": -3,
        "max_tokens": 16, "stream": False, "echo": True}


def test_it_turns_a_chat_form_into_a_clean_body():
    data = {**CHAT, "logit_bias": '{"50256": -100}', "response_format": "json_object",
            "tools": '[{"type": "function", "function": {"name": "f"}}]', "tool_choice": "auto",
            "stream": "true", "stream_options": '{"include_usage": true}', "logprobs": "on",
            "top_logprobs": " 3 "}
    assert coerce_form("chat", data) == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}],
        "logit_bias": {"50256": -100}, "stream": True, "stream_options": {"include_usage": True},
        "logprobs": True, "top_logprobs": 3, "response_format": {"type": "json_object"},
        "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "auto"}


@pytest.mark.parametrize(("text", "value"), [
    ("0.7", 0.7), ("1", 1), ("2", 2), ("0", 0), (".5", 0.5), ("1e-1", 0.1), ("-0", 0),
])
def test_it_reads_numbers(text, value):
    body = coerce_form("completions", {"model": "m", "prompt": "p", "temperature": text})
    assert body["temperature"] == value and type(body["temperature"]) is type(value)


@pytest.mark.parametrize(("text", "expected"), [
    ("warm", "temperature must be a number"),
    ("0,7", "temperature must be a number"),
    ("1_0", "temperature must be a number"),
    ("nan", "temperature must be a number"),
    ("inf", "temperature must be a number"),
    ("1e999", "temperature must be a number"),  # read as Infinity, refused by the validator
    ("3", "temperature must be between 0 and 2"),
])
def test_it_reports_unreadable_or_out_of_range_numbers(text, expected):
    assert failure("completions", {"model": "m", "prompt": "p", "temperature": text}) == [
        ("temperature", expected)]


@pytest.mark.parametrize(("text", "expected"), [
    ("1.5", "n must be an integer"), ("2.0", "n must be an integer"),
    ("two", "n must be an integer"),
    ("0", "n must be between 1 and 128"), ("9" * 5000, "n is too large"),
])
def test_it_reports_unreadable_integers(text, expected):
    assert failure("chat", {**CHAT, "n": text}) == [("n", expected)]


@pytest.mark.parametrize(("text", "value"), [
    ("true", True), ("on", True), ("1", True), ("TRUE", True), ("yes", True),
    ("false", False), ("off", False), ("0", False), ("no", False),
])
def test_it_reads_booleans(text, value):
    assert coerce_form("chat", {**CHAT, "stream": text})["stream"] is value


def test_it_reads_a_checkbox_after_its_hidden_false_input():
    checked = form(**CHAT, stream=["false", "on"])
    unchecked = form(**CHAT, stream=["false"])
    assert coerce_form("chat", checked)["stream"] is True
    assert coerce_form("chat", unchecked)["stream"] is False


def test_it_reports_an_unreadable_boolean():
    assert failure("chat", {**CHAT, "stream": "maybe"}) == [("stream", "stream must be a boolean")]


def test_it_treats_empty_inputs_as_unset():
    data = {**CHAT, **{name: "" for name in ("temperature", "n", "stop", "tools", "user",
                                              "logit_bias", "tool_choice", "response_format",
                                              "stream", "seed")}, "top_p": "   "}
    assert coerce_form("chat", data) == {"model": "m",
                                         "messages": [{"role": "user", "content": "hi"}]}


def test_it_keeps_text_as_typed_but_with_unix_newlines():
    body = coerce_form("completions", {"model": "m", "prompt": " Line one\r\nLine two ",
                                       "stop": "\r\n", "suffix": " end"})
    assert body["prompt"] == " Line one\nLine two "
    assert body["stop"] == "\n"
    assert body["suffix"] == " end"


@pytest.mark.parametrize(("text", "value"), [
    ('["a", "b"]', ["a", "b"]),
    ("[1212, 318]", [1212, 318]),
    ("[[1212], [318, 13]]", [[1212], [318, 13]]),
    ("[INST] hi [/INST]", "[INST] hi [/INST]"),
    ('["unclosed"', '["unclosed"'),
    ("plain", "plain"),
])
def test_it_reads_a_prompt_as_text_unless_it_is_a_json_array(text, value):
    assert coerce_form("completions", {"model": "m", "prompt": text})["prompt"] == value


def test_it_reads_a_stop_list_as_a_json_array():
    body = coerce_form("chat", {**CHAT, "stop": '["\\n", "END"]'})
    assert body["stop"] == ["\n", "END"]
    assert failure("chat", {**CHAT, "stop": '["a", "b", "c", "d", "e"]'}) == [
        ("stop", "stop accepts at most 4 sequences")]


@pytest.mark.parametrize("name", ["messages", "tools", "logit_bias", "stream_options"])
def test_it_reports_bad_json_as_a_field_error(name):
    ((field, message),) = failure("chat", {**CHAT, "stream": "true", name: "{'a': 1}"})
    assert field == name
    assert message.startswith(f"{name} is not valid JSON: Expecting property name enclosed in "
                              "double quotes (line 1, column 2)")


@pytest.mark.parametrize("text", ["NaN", '{"1": Infinity}', "[" * 100_000, "9" * 5000])
def test_it_reports_json_that_python_reads_but_json_forbids(text):
    assert failure("chat", {**CHAT, "logit_bias": text}) == [
        ("logit_bias", "logit_bias is not valid JSON")]


def test_it_reads_tool_choice_as_a_word_or_json():
    tools = '[{"type": "function", "function": {"name": "f"}}]'
    named = '{"type": "function", "function": {"name": "f"}}'
    assert coerce_form("chat", {**CHAT, "tools": tools, "tool_choice": named})["tool_choice"] == (
        json.loads(named))
    assert coerce_form("chat", {**CHAT, "tools": tools, "tool_choice": " none "})[
        "tool_choice"] == "none"


def test_it_reads_response_format_as_a_type_or_json():
    schema = '{"type": "json_schema", "json_schema": {"name": "w", "schema": {}}}'
    assert coerce_form("chat", {**CHAT, "response_format": schema})["response_format"] == (
        json.loads(schema))
    assert failure("chat", {**CHAT, "response_format": "yaml"}) == [
        ("response_format.type",
         "response_format.type must be one of text, json_object, json_schema")]


def test_it_reports_parse_and_validation_errors_together_without_repeating_them():
    data = {"model": "m", "messages": "[oops", "temperature": "hot", "n": "500",
            "tools": "{", "tool_choice": "auto"}
    assert failure("chat", data) == [
        ("messages", "messages is not valid JSON: Expecting value (line 1, column 2)"),
        ("temperature", "temperature must be a number"),
        ("tools", "tools is not valid JSON: Expecting property name enclosed in double quotes "
                  "(line 1, column 2)"),
        ("n", "n must be between 1 and 128"),
    ]


def test_it_ignores_keys_that_are_not_fields_of_the_endpoint():
    data = {**CHAT, "csrfmiddlewaretoken": "x", "prompt": "for the other mode", "mode": "chat"}
    assert set(coerce_form("chat", data)) == {"model", "messages"}


def test_it_validates_values_that_are_already_typed():
    assert coerce_form("chat", {**CHAT, "n": 2, "stream": True}) == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 2, "stream": True}
    assert failure("chat", {**CHAT, "n": 2.5}) == [("n", "n must be an integer")]


def test_it_gives_a_form_without_max_tokens_the_documented_default():
    # The playground form and the gateway send the same thing for an unset field.
    clean = coerce_form("completions", {"model": "m", "prompt": "Hi", "max_tokens": ""})
    assert clean["max_tokens"] == 16
