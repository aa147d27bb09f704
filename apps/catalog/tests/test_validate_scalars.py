import math

import pytest

from apps.catalog import validate

from .bodies import chat, completions, errors


def body(endpoint, **fields):
    # top_logprobs needs logprobs on; everything else stands alone.
    return completions(**fields) if endpoint == "completions" else chat(logprobs=True, **fields)


# (endpoint, field, good values, bad values, message for the bad ones)
RANGES = [
    ("completions", "temperature", [0, 0.7, 2, 2.0], [-0.01, 2.0001, 3], "between 0 and 2"),
    ("chat", "temperature", [0, 1.5, 2], [-1, 2.5], "between 0 and 2"),
    ("completions", "top_p", [0, 0.1, 1], [-0.1, 1.01], "between 0 and 1"),
    ("chat", "top_p", [0, 1], [1.5], "between 0 and 1"),
    ("completions", "presence_penalty", [-2, 0, 2], [-2.1, 2.1], "between -2 and 2"),
    ("chat", "frequency_penalty", [-2, 0.5, 2], [-3, 3], "between -2 and 2"),
    ("completions", "repetition_penalty", [0.01, 1, 5], [0, 0.0, -1], "greater than 0"),
    ("chat", "repetition_penalty", [1e-9, 1.2], [0, -0.5], "greater than 0"),
    ("completions", "max_tokens", [0, 1, 16, 100_000], [-1], "at least 0"),
    ("chat", "max_tokens", [0, 256], [-5], "at least 0"),
    ("chat", "max_completion_tokens", [0, 256], [-1], "at least 0"),
    ("completions", "n", [1, 128], [0, 129, -1], "between 1 and 128"),
    ("chat", "n", [1, 3, 128], [0, 200], "between 1 and 128"),
    ("completions", "logprobs", [0, 5], [-1, 6, 20], "between 0 and 5"),
    ("chat", "top_logprobs", [0, 20], [-1, 21], "between 0 and 20"),
    ("completions", "best_of", [0, 1, 20], [-1, 21], "between 0 and 20"),
    ("completions", "seed", [0, -1, 2**63 - 1, -(2**63)], [2**63, -(2**63) - 1, 10**100],
     "between -9223372036854775808 and 9223372036854775807"),
    ("chat", "seed", [42], [2**64], "between -9223372036854775808 and 9223372036854775807"),
]


@pytest.mark.parametrize(("endpoint", "name", "good", "bad", "rule"), RANGES)
def test_it_enforces_numeric_ranges(endpoint, name, good, bad, rule):
    for value in good:
        assert validate(endpoint, body(endpoint, **{name: value}))[name] == value
    for value in bad:
        expected = [(name, f"{name} must be {rule}")]
        assert errors(endpoint, body(endpoint, **{name: value})) == expected


NUMBERS = [("completions", "temperature"), ("chat", "top_p"), ("chat", "presence_penalty"),
           ("completions", "frequency_penalty"), ("chat", "repetition_penalty")]


@pytest.mark.parametrize(("endpoint", "name"), NUMBERS)
@pytest.mark.parametrize("value", ["0.7", True, False, math.nan, math.inf, -math.inf, [1], {}])
def test_it_rejects_what_is_not_a_number(endpoint, name, value):
    expected = [(name, f"{name} must be a number")]
    assert errors(endpoint, body(endpoint, **{name: value})) == expected


INTEGERS = [("completions", "max_tokens"), ("completions", "n"), ("completions", "logprobs"),
            ("completions", "best_of"), ("completions", "seed"), ("chat", "top_logprobs"),
            ("chat", "max_completion_tokens"), ("chat", "seed"), ("chat", "n")]


@pytest.mark.parametrize(("endpoint", "name"), INTEGERS)
@pytest.mark.parametrize("value", ["2", 2.5, 1.5, True, False, math.nan, [2], {"n": 2}])
def test_it_rejects_what_is_not_an_integer(endpoint, name, value):
    expected = [(name, f"{name} must be an integer")]
    assert errors(endpoint, body(endpoint, **{name: value})) == expected


@pytest.mark.parametrize(("endpoint", "name"), INTEGERS)
def test_it_accepts_a_whole_number_float_as_an_integer(endpoint, name):
    # JSON has one number type: OpenAI takes max_tokens: 2.0 as 2, so do we,
    # and what is sent upstream is the integer.
    clean = validate(endpoint, body(endpoint, **{name: 2.0}))
    assert clean[name] == 2 and type(clean[name]) is int


BOOLEANS = [("completions", "stream"), ("completions", "echo"), ("completions", "ignore_eos"),
            ("chat", "stream"), ("chat", "logprobs"), ("chat", "parallel_tool_calls")]


@pytest.mark.parametrize(("endpoint", "name"), BOOLEANS)
@pytest.mark.parametrize("value", [0, 1, "true", "false", "on", [], {}, 1.0])
def test_it_accepts_only_real_booleans(endpoint, name, value):
    tools = {"tools": [{"type": "function", "function": {"name": "f"}}]} if name.startswith(
        "parallel") else {}
    good = completions(**tools) if endpoint == "completions" else chat(**tools)
    assert validate(endpoint, {**good, name: True})[name] is True
    assert validate(endpoint, {**good, name: False})[name] is False
    assert errors(endpoint, {**good, name: value}) == [(name, f"{name} must be a boolean")]


@pytest.mark.parametrize(("endpoint", "name"), [
    ("completions", "suffix"), ("completions", "user"), ("chat", "user"), ("chat", "model")])
@pytest.mark.parametrize("value", [1, True, ["a"], {"a": "b"}, 1.5])
def test_it_accepts_only_strings_for_text_fields(endpoint, name, value):
    good = completions() if endpoint == "completions" else chat()
    assert validate(endpoint, {**good, name: "some text"})[name] == "some text"
    assert errors(endpoint, {**good, name: value}) == [(name, f"{name} must be a string")]


def test_it_accepts_an_empty_suffix_and_user():
    assert validate("completions", completions(suffix="", user="", max_tokens=5)) == completions(
        suffix="", user="", max_tokens=5)


@pytest.mark.parametrize(("endpoint", "name"), [
    ("completions", "max_tokens"), ("chat", "max_completion_tokens"),
    ("completions", "repetition_penalty"), ("chat", "repetition_penalty")])
def test_it_caps_unbounded_fields_at_64_bits(endpoint, name):
    assert validate(endpoint, body(endpoint, **{name: 2**63 - 1}))
    for value in (2**63, 10**5000):
        assert errors(endpoint, body(endpoint, **{name: value})) == [
            (name, f"{name} must be at most 9223372036854775807")]


def test_it_rejects_text_that_is_not_valid_unicode():
    # json.loads('"\\ud800"') gives a lone surrogate, which UTF-8 cannot encode.
    assert errors("completions", completions(user="a\ud800")) == [
        ("user", "user must be valid Unicode text")]
    assert errors("completions", completions(prompt=["ok", "\udfff"])) == [
        ("prompt[1]", "prompt[1] must be valid Unicode text")]
    message = {"role": "user", "content": "hi", "\ud800": 1}
    assert errors("chat", chat(messages=[message])) == [
        ("messages[0]", "messages[0] has a key that is not valid Unicode text")]
