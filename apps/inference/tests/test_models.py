"""list_models(), complete() and the shared client."""

import asyncio

import httpx
import pytest

from apps.inference import UpstreamError, complete, list_models
from apps.inference.client import shared_client


async def test_it_lists_models(upstream, upstream_target):
    upstream.models = ["a-model", "b-model"]
    assert await list_models(upstream_target) == ["a-model", "b-model"]
    assert (upstream.last.method, upstream.last.path) == ("GET", "/v1/models")


async def test_it_rejects_an_answer_that_is_not_a_model_list(upstream, upstream_target):
    upstream.behave(body={"object": "list", "data": "nope"})
    with pytest.raises(UpstreamError) as caught:
        await list_models(upstream_target)
    assert caught.value.code == "protocol"


async def test_complete_returns_the_whole_answer(upstream, upstream_target):
    response = await complete(
        upstream_target, "chat", {"messages": [{"role": "user", "content": "yo"}]}
    )
    assert response["choices"][0]["message"] == {"role": "assistant", "content": "Echo: yo"}
    assert response["usage"]["total_tokens"] == 3
    assert "stream" not in upstream.last.json
    assert "notices" not in response


async def test_complete_lists_dropped_fields_as_notices(upstream, upstream_target):
    from dataclasses import replace

    target = replace(upstream_target, accepted_fields=frozenset({"max_tokens"}))
    response = await complete(target, "completions", {"prompt": "x", "best_of": 3, "max_tokens": 5})
    assert response["notices"] == [
        {"field": "best_of", "message": "echo-1 does not accept best_of; it was not sent"}
    ]
    assert "best_of" not in upstream.last.json


async def test_complete_rejects_an_answer_that_is_not_json(upstream, upstream_target):
    upstream.behave(body="this is not json")
    with pytest.raises(UpstreamError) as caught:
        await complete(upstream_target, "completions", {"prompt": "x"})
    assert caught.value.message == "the upstream's answer is not JSON"


async def test_it_reuses_one_pooled_client_per_event_loop(upstream, upstream_target):
    assert shared_client() is shared_client()
    await complete(upstream_target, "completions", {"prompt": "x"})
    assert shared_client() is shared_client()


def test_it_never_reuses_a_client_from_a_closed_loop(upstream, upstream_target):
    async def run():
        await complete(upstream_target, "completions", {"prompt": "x"})
        return shared_client()

    first = asyncio.run(run())
    second = asyncio.run(run())  # would fail if it used the first loop's client
    assert first is not second
    assert isinstance(second, httpx.AsyncClient)


async def test_the_shared_client_keeps_no_cookie_an_upstream_sets(upstream, upstream_target):
    # One client serves every user and key of this process: a cookie one
    # call's answer sets (a load balancer's, a session) must not ride along
    # on the next call, someone else's.
    upstream.behave(headers={"Set-Cookie": "session=alice-0123; Path=/"})
    await complete(upstream_target, "completions", {"prompt": "first"})
    upstream.behave()
    await complete(upstream_target, "completions", {"prompt": "second"})
    assert "cookie" not in upstream.last.headers
    assert not shared_client().cookies
