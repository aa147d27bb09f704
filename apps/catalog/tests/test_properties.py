"""Property tests: garbage in gives FieldErrors, never a crash; ranges hold exactly."""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.catalog import FIELDS, FieldError, ValidationFailed, coerce_form, fields_for, validate
from apps.catalog.table import INT64_MAX
from apps.catalog.validation import ROLES

from .bodies import chat, completions

# Modest, so the suite stays fast; no example database written into the repo.
# Tests run once per field draw fewer examples each (thousands in all).
MODEST = settings(max_examples=200, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow])
PER_FIELD = settings(MODEST, max_examples=50)

# Any JSON value, plus what Python callers and json.loads can sneak in: NaN,
# Infinity, integers of any size, lone surrogates.
LEAVES = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats() | st.text(max_size=10) | st.sampled_from(["\ud800", "auto", "function", "user",
                                                            "tool", "text", "json_schema"])
)
KEYS = st.text(max_size=8) | st.sampled_from(
    ["role", "content", "type", "function", "name", "text", "image_url", "url", "tool_calls",
     "tool_call_id", "arguments", "parameters", "json_schema", "schema", "include_usage", "id"])
JSON = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
# Near-valid messages reach deeper into the message checks than random JSON.
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(ROLES) | JSON},
    optional={"content": st.text(max_size=5) | JSON, "name": JSON, "tool_calls": JSON,
              "tool_call_id": st.text(max_size=5) | JSON},
)
NAMES = sorted({f.name for f in FIELDS})


def assert_sendable_or_refused(endpoint, body):
    try:
        clean = validate(endpoint, body)
    except ValidationFailed as e:
        assert e.errors and all(isinstance(err, FieldError) for err in e.errors)
        assert all(isinstance(err.field, str) and isinstance(err.message, str)
                   for err in e.errors)
        return
    # What passes can be sent and stored, and passes again unchanged.
    json.dumps(clean, ensure_ascii=False, allow_nan=False).encode("utf-8")
    assert validate(endpoint, clean) == clean
    assert all(value is not None for value in clean.values())


@MODEST
@given(endpoint=st.sampled_from(["completions", "chat"]),
       body=st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=5) | st.integers(), JSON,
                            max_size=8))
def test_it_never_crashes_on_an_arbitrary_body(endpoint, body):
    assert_sendable_or_refused(endpoint, body)


@MODEST
@given(body=JSON)
def test_it_never_crashes_on_an_arbitrary_json_value_as_the_body(body):
    assert_sendable_or_refused("chat", body)


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f"{f.endpoint}.{f.name}")
@PER_FIELD
@given(value=JSON)
def test_it_never_crashes_on_an_arbitrary_value_for_a_field(f, value):
    base = completions() if f.endpoint == "completions" else chat()
    assert_sendable_or_refused(f.endpoint, {**base, f.name: value})


@MODEST
@given(messages=st.lists(MESSAGE, max_size=4), tools=JSON, tool_choice=JSON)
def test_it_never_crashes_on_near_valid_conversations(messages, tools, tool_choice):
    assert_sendable_or_refused("chat", chat(messages=messages, tools=tools,
                                            tool_choice=tool_choice))


@MODEST
@given(form=st.dictionaries(st.sampled_from(NAMES), st.text(max_size=30), max_size=8),
       endpoint=st.sampled_from(["completions", "chat"]))
def test_it_never_crashes_on_an_arbitrary_form(form, endpoint):
    try:
        clean = coerce_form(endpoint, form)
    except ValidationFailed as e:
        assert e.errors
    else:
        assert validate(endpoint, clean) == clean


# --- ranges ----------------------------------------------------------------------------

NUMERIC = [f for f in FIELDS if f.kind in ("number", "integer")]


def body_with(f, value):
    # top_logprobs needs logprobs on; every other numeric field stands alone.
    base = completions() if f.endpoint == "completions" else chat(logprobs=True)
    return {**base, f.name: value}


def inside(f):
    # Fields with no documented maximum are capped at 64 bits (see validation.py).
    high = INT64_MAX if f.maximum is None else f.maximum
    integers = st.integers(min_value=math.ceil(f.minimum), max_value=math.floor(high))
    if f.exclusive_minimum:
        integers = integers.filter(lambda x: x > f.minimum)
    if f.kind == "integer":
        return integers
    floats = st.floats(min_value=f.minimum, max_value=f.maximum, exclude_min=f.exclusive_minimum,
                       allow_nan=False, allow_infinity=False)
    return integers | floats


def outside(f):
    high = INT64_MAX if f.maximum is None else f.maximum
    if f.kind == "integer":
        # A float with a fraction is refused too (a whole one is an integer: 2.0 is 2).
        fractions = st.floats().filter(lambda x: not (math.isfinite(x) and x.is_integer()))
        return (st.integers(max_value=f.minimum - 1) | st.integers(min_value=high + 1)
                | fractions)
    # Number fields have small whole-number bounds (see the table).
    below = (st.integers(max_value=f.minimum) | st.floats(max_value=f.minimum, allow_nan=False))
    below = below.filter(lambda x: x < f.minimum or (f.exclusive_minimum and x == f.minimum))
    if f.maximum is None:
        above = st.integers(min_value=INT64_MAX + 1) | st.just(math.inf)
    else:
        above = (st.integers(min_value=f.maximum + 1)
                 | st.floats(min_value=f.maximum, exclude_min=True))
    return below | above | st.just(math.nan)


@pytest.mark.parametrize("f", NUMERIC, ids=lambda f: f"{f.endpoint}.{f.name}")
@PER_FIELD
@given(data=st.data())
def test_it_accepts_every_value_inside_the_enforced_range(f, data):
    value = data.draw(inside(f))
    assert validate(f.endpoint, body_with(f, value))[f.name] == value


@pytest.mark.parametrize("f", NUMERIC, ids=lambda f: f"{f.endpoint}.{f.name}")
@PER_FIELD
@given(data=st.data())
def test_it_refuses_every_value_outside_the_enforced_range(f, data):
    value = data.draw(outside(f))
    with pytest.raises(ValidationFailed) as caught:
        validate(f.endpoint, body_with(f, value))
    assert [e.field for e in caught.value.errors] == [f.name]


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
@MODEST
@given(data=st.data())
def test_it_holds_logit_bias_values_to_their_range(endpoint, data):
    token = data.draw(st.integers(min_value=0, max_value=200_000).map(str))
    build = completions if endpoint == "completions" else chat
    good = data.draw(st.integers(min_value=-100, max_value=100))
    assert validate(endpoint, build(logit_bias={token: good}))["logit_bias"] == {token: good}
    bad = data.draw(st.integers(max_value=-101) | st.integers(min_value=101) | st.floats())
    with pytest.raises(ValidationFailed):
        validate(endpoint, build(logit_bias={token: bad}))


def test_it_checks_every_numeric_field_in_the_range_properties():
    assert {f.name for f in NUMERIC} >= {
        "temperature", "top_p", "n", "max_tokens", "logprobs", "top_logprobs", "best_of",
        "seed", "presence_penalty", "frequency_penalty", "repetition_penalty",
        "max_completion_tokens"}
    assert len(NUMERIC) == sum(1 for e in ("completions", "chat") for f in fields_for(e)
                               if f.kind in ("number", "integer"))
