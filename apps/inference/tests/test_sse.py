"""What arrives on the wire: SSE framing, and streams that go wrong."""

from apps.inference import Delta, Error, Finish, Meta, Usage
from testing.fixtures import collect, text_of


async def test_it_reassembles_json_split_across_network_chunks(upstream, upstream_target):
    upstream.behave(byte_chunks=7)
    events = await collect(upstream_target, "completions", {"prompt": "split me please"})
    assert text_of(events) == "Echo: split me please"
    assert len(upstream.requests) == 1


async def test_it_keeps_a_multibyte_character_split_across_chunks(upstream, upstream_target):
    # One byte per network write: every multibyte character arrives in pieces.
    # No charset in the Content-Type (as llama.cpp sends it): UTF-8 is assumed.
    upstream.behave(
        chunks=["h\u00e9", "llo \u4e16\u754c ", "\U0001f600!"],
        byte_chunks=1,
        byte_delay=0,
        content_type="text/event-stream",
    )
    events = await collect(upstream_target, "completions", {"prompt": "x"})
    assert text_of(events) == "h\u00e9llo \u4e16\u754c \U0001f600!"


async def test_it_accepts_crlf_line_ends(upstream, upstream_target):
    # In 3-byte writes, some CR LF pairs arrive split between two reads.
    upstream.behave(crlf=True, byte_chunks=3, byte_delay=0)
    events = await collect(upstream_target, "completions", {"prompt": "crlf"})
    assert text_of(events) == "Echo: crlf"
    assert not any(isinstance(e, Error) for e in events)


async def test_it_ignores_comment_lines(upstream, upstream_target):
    upstream.behave(comments=True)
    events = await collect(upstream_target, "completions", {"prompt": "pings"})
    assert text_of(events) == "Echo: pings"
    assert not any(isinstance(e, Error) for e in events)


async def test_it_accepts_a_missing_done_after_every_choice_finished(upstream, upstream_target):
    upstream.behave(done=False)
    events = await collect(upstream_target, "completions", {"prompt": "x", "n": 2})
    assert not any(isinstance(e, Error) for e in events)
    assert isinstance(events[-1], Usage)


async def test_it_fails_a_stream_that_ends_before_a_finish(upstream, upstream_target):
    upstream.behave(finish=False, done=False)
    events = await collect(upstream_target, "completions", {"prompt": "a b c"})
    assert text_of(events) == "Echo: a b c"  # what arrived was still delivered
    assert events[-1] == Error("the upstream closed the stream early", "upstream")


async def test_it_fails_a_stream_where_one_choice_never_finished(upstream, upstream_target):
    upstream.behave(
        raw=[
            'data: {"choices": [{"index": 0, "text": "a", "finish_reason": "stop"}]}\n\n',
            'data: {"choices": [{"index": 1, "text": "b", "finish_reason": null}]}\n\n',
        ]
    )
    events = await collect(upstream_target, "completions", {"prompt": "x", "n": 2})
    assert events[-1].code == "upstream"


async def test_it_fails_a_dropped_connection(upstream, upstream_target):
    upstream.behave(drop_after=2)
    events = await collect(upstream_target, "completions", {"prompt": "a b c d"})
    assert text_of(events) == "Echo: a"
    assert events[-1] == Error("the upstream closed the stream early", "upstream")


async def test_it_turns_an_error_frame_into_an_error_never_text(upstream, upstream_target):
    upstream.behave(
        error_after=1,
        error_frame={"error": {"message": "model overloaded", "type": "server_error"}},
    )
    events = await collect(upstream_target, "completions", {"prompt": "a b c"})
    assert text_of(events) == "Echo:"
    assert "overloaded" not in text_of(events)
    assert events[-1] == Error(
        "the upstream reported an error mid-stream: model overloaded", "protocol"
    )


async def test_it_turns_an_error_event_into_an_error(upstream, upstream_target):
    upstream.behave(raw=['event: error\ndata: {"message": "slot unavailable"}\n\n'])
    events = await collect(upstream_target, "completions", {"prompt": "x"})
    assert events == [
        Meta(),
        Error("the upstream reported an error mid-stream: slot unavailable", "protocol"),
    ]


async def test_it_fails_malformed_json_as_a_protocol_error(upstream, upstream_target):
    upstream.behave(malformed_after=1)
    events = await collect(upstream_target, "completions", {"prompt": "a b"})
    assert events[-1] == Error("the upstream sent malformed data in the stream", "protocol")
    assert "oops" not in text_of(events)


async def test_it_fails_an_answer_that_is_not_an_event_stream(upstream, upstream_target):
    upstream.behave(content_type="text/html", raw=["<html>hello</html>"])
    events = await collect(upstream_target, "completions", {"prompt": "x"})
    assert events == [Meta(), Error("the upstream did not answer with an event stream", "protocol")]


async def test_it_fails_an_empty_stream(upstream, upstream_target):
    upstream.behave(raw=["data: [DONE]\n\n"])
    events = await collect(upstream_target, "completions", {"prompt": "x"})
    assert events == [Meta(), Error("the upstream ended the stream without any output", "upstream")]


async def test_it_sends_meta_once_before_anything_else(upstream, upstream_target):
    events = await collect(
        upstream_target, "chat", {"messages": [{"role": "user", "content": "x"}], "n": 2}
    )
    assert isinstance(events[0], Meta)
    assert sum(isinstance(e, Meta) for e in events) == 1
    assert all(isinstance(e, (Delta, Finish, Usage)) for e in events[1:])
