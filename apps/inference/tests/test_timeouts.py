"""Each timeout of Target.timeouts, named in the Error, and the upstream is let go."""

import socket
from dataclasses import replace

import pytest

from apps.inference import Error, UpstreamError, complete, list_models
from apps.inference.target import Timeouts
from testing.fixtures import collect, text_of


def with_timeouts(target, **values):
    return replace(target, timeouts=replace(target.timeouts, **values))


@pytest.fixture
def blackhole():
    """A loopback port whose accept queue is full: connecting just hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}/v1"
    for s in [server, *fillers]:
        s.close()


async def test_it_times_out_connecting(upstream_target, blackhole):
    target = replace(upstream_target, base_url=blackhole, timeouts=Timeouts(connect=0.2))
    events = await collect(target, "completions", {"prompt": "x"})
    assert events[-1] == Error("could not connect within 0.2 s (connect timeout)", "timeout")


async def test_it_times_out_waiting_for_the_first_byte(upstream, upstream_target):
    upstream.behave(latency=2)
    events = await collect(
        with_timeouts(upstream_target, first_byte=0.2), "completions", {"prompt": "x"}
    )
    assert events[-1] == Error(
        "the upstream sent nothing for 0.2 s (first-byte timeout)", "timeout"
    )
    assert await upstream.wait_for_disconnect(1.0)


async def test_it_times_out_between_chunks(upstream, upstream_target):
    upstream.behave(stall_after=2)
    target = with_timeouts(upstream_target, between_chunks=0.2)
    events = await collect(target, "completions", {"prompt": "a b c"})
    assert text_of(events) == "Echo: a"  # what came before the stall is kept
    assert events[-1] == Error(
        "the upstream stopped sending for 0.2 s (between-chunks timeout)", "timeout"
    )
    assert await upstream.wait_for_disconnect(1.0)


async def test_it_times_out_the_whole_response(upstream, upstream_target):
    # Each chunk is in time; the whole is not.
    upstream.behave(text="a b c d e f g h i j k l", interval=0.1)
    target = with_timeouts(upstream_target, between_chunks=1, total=0.35)
    events = await collect(target, "completions", {"prompt": "x"})
    assert 0 < len(text_of(events)) < len("a b c d e f g h i j k l")
    assert events[-1] == Error("the response took longer than 0.35 s (total timeout)", "timeout")


async def test_complete_times_out_the_whole_response(upstream, upstream_target):
    upstream.behave(latency=2)
    with pytest.raises(UpstreamError) as caught:
        await complete(with_timeouts(upstream_target, total=0.2), "completions", {"prompt": "x"})
    assert caught.value.message == "the response took longer than 0.2 s (total timeout)"
    assert caught.value.code == "timeout"
    assert await upstream.wait_for_disconnect(1.0)


async def test_list_models_times_out_connecting(upstream_target, blackhole):
    target = replace(upstream_target, base_url=blackhole, timeouts=Timeouts(connect=0.2))
    with pytest.raises(UpstreamError) as caught:
        await list_models(target)
    assert caught.value.code == "timeout"
