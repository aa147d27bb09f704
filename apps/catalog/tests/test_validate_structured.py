"""prompt, stop, logit_bias, stream_options, response_format, and plain JSON."""

import math

import pytest

from apps.catalog import validate

from .bodies import chat, completions, errors

PROMPT_SHAPES = ("prompt must be a string, an array of strings, an array of token ids or an "
                 "array of token id arrays")


@pytest.mark.parametrize("prompt", [
    "Say hi", "", ["a", "b"], [""], [1212, 318, 257], [0], [[1212, 318], [13]],
])
def test_it_accepts_the_four_documented_prompt_shapes(prompt):
    assert validate("completions", completions(prompt=prompt))["prompt"] == prompt


@pytest.mark.parametrize("prompt", [
    ["a", 1], [1, [2]], [[1], []], [[1], ["a"]], [-1], [True], [1.5], [[2**63]], [10**5000],
    5, True, {"text": "hi"}, [None], ("a",),
])
def test_it_rejects_other_prompts(prompt):
    assert errors("completions", completions(prompt=prompt)) == [("prompt", PROMPT_SHAPES)]


def test_it_rejects_an_empty_prompt_array():
    assert errors("completions", completions(prompt=[])) == [("prompt", "prompt must not be empty")]


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_it_accepts_a_stop_string_or_one_to_four_strings(endpoint):
    build = completions if endpoint == "completions" else chat
    for stop in ["\n", "", ["\n"], ["a", "b", "c", "d"]]:
        assert validate(endpoint, build(stop=stop))["stop"] == stop
    assert errors(endpoint, build(stop=["a"] * 5)) == [("stop", "stop accepts at most 4 sequences")]
    assert errors(endpoint, build(stop=[])) == [("stop", "stop must not be an empty array")]
    for stop in [1, ["a", 1], [None], {"a": "b"}, [["a"]], True]:
        assert errors(endpoint, build(stop=stop)) == [
            ("stop", "stop must be a string or an array of strings")]


def test_it_accepts_a_logit_bias_of_token_ids_to_integers():
    bias = {"50256": -100, "0": 100, "13": 0}
    assert validate("completions", completions(logit_bias=bias))["logit_bias"] == bias
    assert validate("chat", chat(logit_bias={}))["logit_bias"] == {}


@pytest.mark.parametrize("bias", [{"50256": -101}, {"1": 101}, {"1": 1000, "2": 0},
                                  {"1": -10**30}], ids=["-101", "101", "1000", "huge"])
def test_it_rejects_a_bias_out_of_range(bias):
    assert errors("chat", chat(logit_bias=bias)) == [
        ("logit_bias", "logit_bias values must be between -100 and 100")]


@pytest.mark.parametrize("bias", [{"hello": 1}, {"-1": 1}, {"1.5": 1}, {"": 1}, {" 1": 1},
                                  {"١": 1}, {"1" * 40: 1}])
def test_it_rejects_logit_bias_keys_that_are_not_token_ids(bias):
    assert errors("completions", completions(logit_bias=bias)) == [
        ("logit_bias", "logit_bias keys must be token ids")]


@pytest.mark.parametrize("bias", [{"1": "5"}, {"1": True}, {"1": None}, {"1": [1]}, {"1": 0.5}])
def test_it_rejects_logit_bias_values_that_are_not_integers(bias):
    assert errors("completions", completions(logit_bias=bias)) == [
        ("logit_bias", "logit_bias values must be integers")]


@pytest.mark.parametrize("bias", [[["1", 5]], "50256:-100", 5])
def test_it_rejects_a_logit_bias_that_is_not_an_object(bias):
    assert errors("chat", chat(logit_bias=bias)) == [
        ("logit_bias", "logit_bias must be an object mapping token ids to bias values")]


def test_it_checks_stream_options():
    ok = chat(stream=True, stream_options={"include_usage": False})
    assert validate("chat", ok)["stream_options"] == {"include_usage": False}
    assert validate("completions", completions(stream=True, stream_options={}))
    assert errors("chat", chat(stream=True, stream_options={"include_usage": "yes"})) == [
        ("stream_options.include_usage", "stream_options.include_usage must be a boolean")]
    assert errors("chat", chat(stream=True, stream_options=[True])) == [
        ("stream_options", "stream_options must be an object")]


@pytest.mark.parametrize("response_format", [
    {"type": "text"},
    {"type": "json_object"},
    {"type": "json_schema", "json_schema": {"name": "weather", "schema": {"type": "object"}}},
    {"type": "json_schema", "json_schema": {"name": "w-1", "schema": {}, "strict": True,
                                            "description": "the weather"}},
])
def test_it_accepts_the_documented_response_formats(response_format):
    assert validate("chat", chat(response_format=response_format))["response_format"] == (
        response_format)


@pytest.mark.parametrize(("response_format", "expected"), [
    ("json_object", [("response_format", "response_format must be an object with a type")]),
    ([{"type": "text"}], [("response_format", "response_format must be an object with a type")]),
    ({}, [("response_format.type",
           "response_format.type must be one of text, json_object, json_schema")]),
    ({"type": "xml"}, [("response_format.type",
                        "response_format.type must be one of text, json_object, json_schema")]),
    ({"type": "json_schema"}, [("response_format.json_schema",
                                "response_format.json_schema must be an object with a name and "
                                "a schema")]),
    ({"type": "json_schema", "json_schema": {"schema": {}}},
     [("response_format.json_schema.name", "response_format.json_schema.name must be 1 to 64 "
       "letters, digits, underscores or dashes")]),
    ({"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}},
     [("response_format.json_schema.name", "response_format.json_schema.name must be 1 to 64 "
       "letters, digits, underscores or dashes")]),
    ({"type": "json_schema", "json_schema": {"name": "w"}},
     [("response_format.json_schema.schema",
       "response_format.json_schema.schema must be a JSON object (a JSON Schema)")]),
    ({"type": "json_schema", "json_schema": {"name": "w", "schema": "{}", "strict": "yes"}},
     [("response_format.json_schema.schema",
       "response_format.json_schema.schema must be a JSON object (a JSON Schema)"),
      ("response_format.json_schema.strict",
       "response_format.json_schema.strict must be a boolean")]),
])
def test_it_rejects_other_response_formats(response_format, expected):
    assert errors("chat", chat(response_format=response_format)) == expected


def deep(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


def test_it_rejects_nesting_deeper_than_64_levels_without_recursing():
    schema = {"type": "object", "properties": {"x": deep(200_000)}}
    tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    ((name, message),) = errors("chat", chat(tools=tools))
    assert name.startswith("tools[0].function.parameters.properties.x")
    assert message.endswith("is nested more than 64 levels deep")
    message = {"role": "user", "content": "hi", "extra": deep(100_000)}
    ((name, text),) = errors("chat", chat(messages=[message]))
    assert name.startswith("messages[0].extra[0][0]")
    assert text.endswith("is nested more than 64 levels deep")
    # Where the shape is known, deep garbage is simply the wrong shape.
    assert errors("completions", completions(prompt=deep(100_000))) == [("prompt", PROMPT_SHAPES)]


@pytest.mark.parametrize(("garbage", "message"), [
    (math.nan, "must be a number (NaN and Infinity are not JSON)"),
    (10**5000, "is an integer larger than 64 bits"),
    (("a", "b"), "is not a JSON value"),
    ({1: "a"}, "has a key that is not a string"),
    (object(), "is not a JSON value"),
    (b"bytes", "is not a JSON value"),
], ids=["nan", "huge-int", "tuple", "int-key", "object", "bytes"])
def test_it_reports_values_that_are_not_json_inside_structured_fields(garbage, message):
    schema = {"type": "object", "default": garbage}
    tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    ((name, text),) = errors("chat", chat(tools=tools))
    assert text.endswith(message)
    assert name.startswith("tools[0].function.parameters")
    # A Python tuple is not a JSON array anywhere.
    assert errors("chat", chat(stop=("a",))) == [
        ("stop", "stop must be a string or an array of strings")]


def test_it_reports_values_that_are_not_json_where_unknown_keys_pass_through():
    message = {"role": "user", "content": "hi", "extra": {"x": math.inf}}
    assert errors("chat", chat(messages=[message])) == [
        ("messages[0].extra.x",
         "messages[0].extra.x must be a number (NaN and Infinity are not JSON)")]
