"""stream(): the normal path, against the test upstream over a socket."""

import pytest

from apps.inference import Delta, Error, Finish, Meta, Notice, Usage
from testing.fixtures import collect, text_of


async def test_it_streams_a_completion(upstream, upstream_target):
    events = await collect(upstream_target, "completions", {"model": "x", "prompt": "hello world"})
    assert isinstance(events[0], Meta)
    assert events[0].model == "echo-1"
    assert events[0].system_fingerprint == "fp_fake"
    assert text_of(events) == "Echo: hello world"
    assert Finish(0, "stop") in events
    assert not any(isinstance(e, Error) for e in events)


async def test_it_streams_a_chat_with_the_role_first(upstream, upstream_target):
    body = {"messages": [{"role": "user", "content": "hi there"}]}
    events = await collect(upstream_target, "chat", body)
    deltas = [e for e in events if isinstance(e, Delta)]
    assert deltas[0].role == "assistant"
    assert text_of(events) == "Echo: hi there"
    assert isinstance(events[-1], Usage)


async def test_it_forces_streaming_asks_for_usage_and_sets_the_model(upstream, upstream_target):
    body = {"model": "whatever", "prompt": "x", "stream": False, "stream_options": {"a": 1}}
    await collect(upstream_target, "completions", body)
    sent = upstream.last.json
    assert sent["model"] == "echo-1"
    assert sent["stream"] is True
    assert sent["stream_options"] == {"a": 1, "include_usage": True}
    assert upstream.last.path == "/v1/completions"
    assert upstream.last.headers["accept"] == "text/event-stream"


async def test_it_reports_usage_last(upstream, upstream_target):
    events = await collect(upstream_target, "completions", {"prompt": "one two three"})
    assert events[-1] == Usage(
        3, 4, 7, {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    )


async def test_it_reports_no_usage_when_the_upstream_sends_none(upstream, upstream_target):
    upstream.behave(usage=False)
    events = await collect(upstream_target, "completions", {"prompt": "x"})
    assert not any(isinstance(e, Usage) for e in events)
    assert isinstance(events[-1], Finish)


async def test_it_separates_interleaved_choices(upstream, upstream_target):
    events = await collect(upstream_target, "completions", {"prompt": "a b", "n": 3})
    indexes = [e.index for e in events if isinstance(e, Delta)]
    assert indexes[:3] == [0, 1, 2]  # really interleaved on the wire
    assert [text_of(events, i) for i in range(3)] == [
        "Echo #0: a b",
        "Echo #1: a b",
        "Echo #2: a b",
    ]
    assert {e.index for e in events if isinstance(e, Finish)} == {0, 1, 2}


async def test_it_sums_per_choice_usage_reports(upstream, upstream_target):
    # llama.cpp sends one usage report per choice when n > 1.
    usage = '{"prompt_tokens": 4, "completion_tokens": %d, "total_tokens": %d}'
    upstream.behave(
        raw=[
            'data: {"choices": [{"index": 0, "text": "a", "finish_reason": "stop"}]}\n\n',
            'data: {"choices": [{"index": 1, "text": "b", "finish_reason": "stop"}]}\n\n',
            'data: {"choices": [], "usage": %s}\n\n' % (usage % (2, 6)),
            'data: {"choices": [], "usage": %s}\n\n' % (usage % (3, 7)),
            "data: [DONE]\n\n",
        ]
    )
    events = await collect(upstream_target, "completions", {"prompt": "x", "n": 2})
    usage_event = events[-1]
    assert (usage_event.prompt_tokens, usage_event.completion_tokens) == (4, 5)
    assert usage_event.total_tokens == 9


async def test_it_streams_tool_call_deltas(upstream, upstream_target):
    upstream.behave(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Paris"}'}])
    body = {"messages": [{"role": "user", "content": "weather?"}], "tools": [{"type": "function"}]}
    events = await collect(upstream_target, "chat", body)
    calls = [c for e in events if isinstance(e, Delta) and e.tool_calls for c in e.tool_calls]
    assert calls[0]["id"] == "call_0"
    assert calls[0]["function"]["name"] == "get_weather"
    arguments = "".join(c["function"].get("arguments", "") for c in calls)
    assert arguments == '{"city": "Paris"}'
    assert len(calls) > 2  # the arguments came in pieces
    assert Finish(0, "tool_calls") in events
    assert text_of(events) == ""


async def test_it_passes_the_finish_reason_length(upstream, upstream_target):
    events = await collect(upstream_target, "completions", {"prompt": "a b c d e", "max_tokens": 2})
    assert text_of(events) == "Echo: a"
    assert Finish(0, "length") in events


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
async def test_it_drops_fields_the_model_does_not_accept(upstream, upstream_target, endpoint):
    from dataclasses import replace

    target = replace(upstream_target, accepted_fields=frozenset({"temperature", "stream_options"}))
    body = {"temperature": 0.5, "echo": True, "suffix": "z", "prompt": "p"}
    if endpoint == "chat":
        body = {"temperature": 0.5, "echo": True, "suffix": "z", "messages": [{"role": "user"}]}
    events = await collect(target, endpoint, body)
    assert isinstance(events[0], Meta)
    assert events[1:3] == [
        Notice("echo-1 does not accept echo; it was not sent", field="echo"),
        Notice("echo-1 does not accept suffix; it was not sent", field="suffix"),
    ]
    sent = upstream.last.json
    assert "echo" not in sent and "suffix" not in sent
    assert sent["temperature"] == 0.5
    # The adapter's own fields are always sent.
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


async def test_it_does_not_ask_for_usage_when_stream_options_is_not_accepted(
    upstream, upstream_target
):
    from dataclasses import replace

    target = replace(upstream_target, accepted_fields=frozenset({"prompt"}))
    await collect(target, "completions", {"prompt": "p"})
    assert "stream_options" not in upstream.last.json


async def test_it_sends_the_key_and_custom_headers(upstream, upstream_target):
    from dataclasses import replace

    upstream.require_key("sk-right")
    target = replace(upstream_target, api_key="sk-right", headers={"OpenAI-Organization": "org-1"})
    events = await collect(target, "completions", {"prompt": "p"})
    assert not any(isinstance(e, Error) for e in events)
    assert upstream.last.headers["authorization"] == "Bearer sk-right"
    assert upstream.last.headers["openai-organization"] == "org-1"


async def test_it_keeps_a_path_and_query_in_the_base_url(upstream, upstream_target):
    from dataclasses import replace

    target = replace(upstream_target, base_url=f"{upstream.url}/?tenant=t1")
    await collect(target, "chat", {"messages": [{"role": "user", "content": "x"}]})
    assert upstream.last.path == "/v1/chat/completions"
    assert upstream.last.query == {"tenant": "t1"}
