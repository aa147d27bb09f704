"""A schema-driven fuzz of /v1 (issue 10): request bodies drawn from the shapes
of OpenAI's request schemas for /completions and /chat/completions (every
field, null where the schema allows it, values inside and just outside the
documented ranges, the content-part and message kinds it lists) are sent to a
live gateway, on the embedded model and on the test upstream. Whatever the
body, the call ends within BOUND seconds; no answer is a 5xx (both backends
are healthy, so a 5xx could only come from the client's input); and every
answer, errors and stream chunks included, is valid under OpenAI's response
schemas. A stream that has begun ends with [DONE], never an error frame.

Bounded for the test suite: FUZZ_EXAMPLES (default 200) requests. A longer run
by hand: FUZZ_EXAMPLES=3000 pytest apps/gateway/tests/test_fuzz.py
"""

import json
import os
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.providers.models import ensure_local_provider

from .openai_schema import problems

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
# Few tokens per choice (below), at most 4 choices: any call that takes this
# long is a hang.
BOUND = 30.0


TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
TOKEN_IDS = st.lists(st.integers(0, 49_151), min_size=1, max_size=4)
SMALL_MAX = st.sampled_from([0, 1, 2, 3, 2.0])
# Any JSON value: what a field gets when the fuzz breaks a valid body.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=False,
                                                                          allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)

# A field is left out (ABSENT), null, or a value.
ABSENT = object()


def optional(strategy):
    return st.one_of(st.just(ABSENT), st.just(None), strategy)


def maybe(strategy):
    """A message key: null or a value (an SDK replaying a message sends nulls)."""
    return st.none() | strategy


LENGTH = ("max_tokens", "max_completion_tokens")


def short(body, endpoint):
    """Whether the answer is bounded to a few tokens. A valid long length (or,
    on chat, none at all: OpenAI documents no default there) is a long answer,
    not a hang: the embedded model then writes until its 2048-token context is
    full, a minute or more on a busy CPU, which only the provider's timeouts
    bound. Such bodies are left to the conformance tests."""
    lengths = [body.get(name) for name in LENGTH]
    numbers = [v for v in lengths if isinstance(v, int | float) and not isinstance(v, bool)]
    if any(v > 16 for v in numbers):
        return False
    return endpoint == "completions" or bool(numbers) or any(
        v is not None for v in lengths)


def body_of(endpoint, required, fields):
    """Bodies valid under OpenAI's schema (most requests), and the same with
    one field given any JSON value (the rest)."""
    valid = st.fixed_dictionaries(required, optional=fields).map(
        lambda d: {k: v for k, v in d.items() if v is not ABSENT}
    )
    names = sorted({*required, *fields})
    broken = st.tuples(valid, st.sampled_from(names), JSON).map(
        lambda t: {**t[0], t[1]: t[2]}
    ).filter(lambda body: short(body, endpoint))
    return st.one_of(valid, valid, valid, broken)


# The ranges are OpenAI's (003 for /completions; the chat schema's).
SHARED = {
    "temperature": optional(st.floats(0, 2) | st.integers(0, 2)),
    "top_p": optional(st.floats(0, 1)),
    "n": optional(st.integers(1, 4) | st.sampled_from([2.0, 5])),
    "stop": optional(TEXT | st.lists(TEXT, min_size=1, max_size=4)),
    "seed": optional(st.integers(-(2**63), 2**63 - 1)),
    "presence_penalty": optional(st.floats(-2, 2)),
    "frequency_penalty": optional(st.floats(-2, 2)),
    "logit_bias": optional(st.dictionaries(st.integers(0, 49_151).map(str),
                                           st.integers(-100, 100), max_size=2)),
    "user": optional(TEXT),
}
STREAM_OPTIONS = st.fixed_dictionaries({}, optional={"include_usage": st.booleans()})

COMPLETIONS = body_of("completions", {
    "prompt": st.one_of(st.none(), TEXT, st.lists(TEXT, min_size=1, max_size=3), TOKEN_IDS,
                        st.lists(TOKEN_IDS, min_size=1, max_size=2)),
}, {
    **SHARED,
    "max_tokens": optional(SMALL_MAX),
    "logprobs": optional(st.integers(0, 5)),
    "echo": optional(st.booleans()),
    "best_of": optional(st.integers(1, 2)),
    "suffix": optional(TEXT),
})

TEXT_PART = st.fixed_dictionaries({"type": st.just("text"), "text": TEXT})
PARTS = st.one_of(
    TEXT_PART,
    TEXT_PART,
    st.fixed_dictionaries({"type": st.just("image_url"), "image_url": st.fixed_dictionaries(
        {"url": st.just("data:image/png;base64,iVBORw0KGgo=")},
        optional={"detail": st.sampled_from(["auto", "low", "high"])})}),
    st.fixed_dictionaries({"type": st.just("input_audio"), "input_audio": st.fixed_dictionaries(
        {"data": st.just("UklGRg=="), "format": st.sampled_from(["wav", "mp3"])})}),
    st.fixed_dictionaries({"type": st.just("file"), "file": st.fixed_dictionaries(
        {"file_id": st.just("file-abc")})}),
)
CONTENT = TEXT | st.lists(PARTS, min_size=1, max_size=2)
TOOL_CALL = st.fixed_dictionaries({
    "id": st.just("call_1"), "type": st.just("function"),
    "function": st.fixed_dictionaries({"name": st.just("f"), "arguments": st.just("{}")}),
})
MESSAGE = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["developer", "system", "user", "user"]),
                           "content": CONTENT}, optional={"name": maybe(TEXT)}),
    st.fixed_dictionaries({"role": st.just("assistant"), "content": maybe(TEXT)}, optional={
        "refusal": maybe(TEXT), "name": maybe(TEXT),
        "tool_calls": st.lists(TOOL_CALL, min_size=1, max_size=1)}).filter(
            lambda m: m["content"] is not None or m.get("tool_calls")),
    st.fixed_dictionaries({"role": st.just("tool"), "content": TEXT,
                           "tool_call_id": st.just("call_1")}),
)
TOOLS = st.lists(st.fixed_dictionaries({
    "type": st.just("function"),
    "function": st.fixed_dictionaries({"name": st.sampled_from(["f", "get_weather"])}, optional={
        "description": TEXT, "parameters": st.just({"type": "object", "properties": {}})}),
}), min_size=1, max_size=2, unique_by=lambda t: t["function"]["name"])

CHAT = body_of("chat", {
    "messages": st.lists(MESSAGE, min_size=1, max_size=3),
    # Chat has no documented default length: always bounded here so every
    # call is short (unset, the model writes until its context is full).
    "max_tokens": SMALL_MAX,
}, {
    **SHARED,
    "max_completion_tokens": optional(SMALL_MAX),
    "logprobs": optional(st.booleans()),
    "top_logprobs": optional(st.integers(0, 20)),
    "response_format": optional(st.sampled_from([
        {"type": "text"}, {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "integer"}}},
    ])),
    "tools": optional(TOOLS),
    "tool_choice": optional(st.sampled_from(["none", "auto", "required"])),
    "parallel_tool_calls": optional(st.booleans()),
})

REQUESTS = st.one_of(
    st.tuples(st.just("completions"), COMPLETIONS),
    st.tuples(st.just("chat"), CHAT),
).flatmap(lambda pair: st.tuples(
    st.just(pair[0]), st.just(pair[1]), st.sampled_from(["embedded", "upstream"]),
    st.booleans() | st.none(), st.none() | STREAM_OPTIONS,
))

PATHS = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}


def call(client, endpoint, body):
    """(what went wrong or None, status). Reads a streamed answer to its end."""
    path = PATHS[endpoint]
    with client.stream("POST", path, json=body) as response:
        if response.status_code >= 500:
            response.read()
            return f"HTTP {response.status_code}: {response.text[:300]}", response.status_code
        kind = response.headers.get("content-type", "")
        if response.status_code != 200 or "event-stream" not in kind:
            response.read()
            try:
                data = response.json()
            except ValueError:
                return f"not JSON ({response.status_code}): {response.text[:200]}", 0
            name = endpoint if response.status_code == 200 else "error"
            found = problems(name, data)
            return (f"schema ({name}): {found[:3]}" if found else None), response.status_code
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    if not events or events[-1] != "[DONE]":
        return f"stream ended without [DONE]: {events[-1:]!r}", 200
    for event in events[:-1]:
        found = problems(f"{endpoint}.chunk", json.loads(event))
        if found:
            return f"schema ({endpoint}.chunk): {found[:3]} in {event[:300]}", 200
    return None, 200


@pytest.fixture
def client(app_url, secret, fake_model):
    ensure_local_provider()
    with httpx.Client(base_url=app_url, headers={"Authorization": f"Bearer {secret}"},
                      timeout=BOUND) as client:
        yield client


@pytest.fixture
def tally():
    counts = {"requests": 0, "statuses": {}, "failures": []}
    yield counts
    print(f"\nfuzz: {counts['requests']} requests, statuses {counts['statuses']}, "
          f"{len(counts['failures'])} failures")


def test_it_ends_every_call_with_an_answer_openai_would_give(client, tally):
    models = {"embedded": ensure_local_provider().display_name, "upstream": "Echo"}

    # The suite's run is the same 200 requests every time (no flaky CI); a run
    # by hand with FUZZ_EXAMPLES draws new ones.
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              derandomize="FUZZ_EXAMPLES" not in os.environ,
              suppress_health_check=list(HealthCheck))
    @given(request=REQUESTS)
    def one(request):
        endpoint, body, backend, stream, options = request
        body = {**body, "model": models[backend]}
        if stream is not None:
            body["stream"] = stream
            if stream and options is not None:
                body["stream_options"] = options
        started = time.monotonic()
        try:
            problem, status = call(client, endpoint, body)
        except httpx.TimeoutException:
            problem, status = f"no answer within {BOUND:g} s (a hang)", -1
        if problem is None and time.monotonic() - started > BOUND:
            problem, status = f"answered, but after more than {BOUND:g} s", -1
        tally["requests"] += 1
        tally["statuses"][status] = tally["statuses"].get(status, 0) + 1
        if problem:
            tally["failures"].append(f"{problem}\n  {endpoint} on {backend}: {json.dumps(body)}")

    # Every request is run and every failure listed at once (hypothesis does
    # not shrink them: a hang would cost BOUND seconds per shrinking step).
    one()
    if path := os.environ.get("FUZZ_REPORT"):
        with open(path, "w") as report:
            json.dump(tally, report, indent=1)
    assert not tally["failures"], "\n".join(tally["failures"][:20])
