"""A cancel closes the upstream connection at once, and the upstream notices."""

import asyncio
from contextlib import aclosing

from apps.inference import Delta, complete, stream


async def first_delta_then_wait(target, seen):
    async for event in stream(target, "completions", {"prompt": "x"}):
        if isinstance(event, Delta):
            seen.set()


async def test_it_closes_the_upstream_when_the_consumer_is_cancelled(upstream, upstream_target):
    upstream.behave(stall_after=1)
    seen = asyncio.Event()
    task = asyncio.create_task(first_delta_then_wait(upstream_target, seen))
    await asyncio.wait_for(seen.wait(), 2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await upstream.wait_for_disconnect(1.0)
    assert upstream.disconnects == 1


async def test_it_closes_the_upstream_on_aclose(upstream, upstream_target):
    upstream.behave(text="a b c d e f", interval=0.5)
    events = stream(upstream_target, "completions", {"prompt": "x"})
    async for event in events:
        if isinstance(event, Delta):
            break
    await events.aclose()
    assert await upstream.wait_for_disconnect(1.0)


async def test_it_closes_the_upstream_when_leaving_an_aclosing_block(upstream, upstream_target):
    upstream.behave(text="a b c d e f", interval=0.5)
    async with aclosing(stream(upstream_target, "chat", {"messages": []})) as events:
        async for event in events:
            if isinstance(event, Delta):
                break
    assert await upstream.wait_for_disconnect(1.0)


async def test_it_closes_the_upstream_when_complete_is_cancelled(upstream, upstream_target):
    upstream.behave(latency=5)
    task = asyncio.create_task(complete(upstream_target, "completions", {"prompt": "x"}))
    while not upstream.requests:
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await upstream.wait_for_disconnect(1.0)


async def test_a_finished_stream_is_not_a_disconnect(upstream, upstream_target):
    async with aclosing(stream(upstream_target, "completions", {"prompt": "x"})) as events:
        async for _ in events:
            pass
    assert not await upstream.wait_for_disconnect(0.2)
