"""A client that goes away cancels the upstream request (Django cancels an
async view, streaming or not, on http.disconnect), and its Run is kept as
interrupted with the text that arrived. A run stopped from elsewhere (its
owner's Stop, the server shutting down) tells its caller it is not whole."""

import asyncio
import concurrent.futures
import json
import time
import uuid

import httpx
import openai
import pytest
from django.test import AsyncClient
from websockets.sync.client import connect

from apps.history.models import Run
from apps.runs import engine
from testing.sessions import session_cookie

from .conftest import gateway_client, only_run


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_a_client_that_leaves_mid_stream_cancels_the_upstream(app_url, secret, fake_model,
                                                              upstream, endpoint):
    upstream.behave(text="one two three four five six seven", interval=0.3)
    if endpoint == "chat":
        path, body = "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]}
    else:
        path, body = "/v1/completions", {"prompt": "x"}
    with httpx.stream(
        "POST",
        f"{app_url}{path}",
        json={"model": "Echo", "stream": True, **body},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    ) as response:
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        assert "one" in json.loads(first[len("data: "):])["choices"][0].get("text", "one")
    # Leaving the block closed the connection mid-body.
    left = time.monotonic()
    assert upstream.wait_disconnect(1.0)
    assert time.monotonic() - left < 1.0

    run = only_run()
    assert run.status == Run.INTERRUPTED
    assert run.output_text.startswith("one")
    assert "seven" not in run.output_text
    assert run.finished is not None


def test_a_client_that_gives_up_waiting_cancels_a_non_streamed_call(app_url, secret, fake_model,
                                                                    upstream):
    upstream.behave(latency=5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{app_url}/v1/completions",
            json={"model": "Echo", "prompt": "x"},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=httpx.Timeout(5, read=0.5),
        )
    assert upstream.wait_disconnect(1.0)
    run = only_run()
    assert run.status == Run.INTERRUPTED
    assert run.output_text == ""


def test_a_client_that_leaves_before_the_first_token_cancels_the_upstream(app_url, secret,
                                                                          fake_model, upstream):
    # Streamed, but the response has not started: the view is still waiting.
    upstream.behave(latency=1.5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{app_url}/v1/chat/completions",
            json={"model": "Echo", "messages": [{"role": "user", "content": "x"}],
                  "stream": True},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=httpx.Timeout(5, read=0.3),
        )
    assert upstream.wait_disconnect(1.0)
    assert only_run().status == Run.INTERRUPTED


# -- a run stopped by someone else: the caller is told it is not the whole answer


def test_a_streamed_call_its_owner_stops_in_playground_ends_with_an_error_not_done(
    app_url, owner, secret, fake_model, upstream
):
    upstream.behave(text="one two three four five six seven", interval=0.3)
    sdk = gateway_client(app_url, secret)
    stream = sdk.completions.create(model="Echo", prompt="x", stream=True)
    first = next(stream)
    run_uuid = first.id.rsplit("-", 1)[1]
    with connect(app_url.replace("http://", "ws://") + "/ws/run/", origin=app_url,
                 additional_headers={"Cookie": session_cookie(owner)}) as ws:
        ws.send(json.dumps({"type": "stop", "run": str(uuid.UUID(run_uuid))}))
        with pytest.raises(openai.APIError) as raised:
            for _ in stream:
                pass
    assert "stopped in Playground" in raised.value.message
    assert raised.value.code == "run_cancelled"
    run = only_run()
    assert run.status == Run.CANCELLED
    assert run.output_text.startswith("one") and "seven" not in run.output_text


async def test_a_plain_call_its_owner_stops_is_answered_410_not_a_partial_200(
    owner, secret, fake_model, upstream
):
    # In this process (Django's ASGI handler on the test's loop), so the
    # run's uuid can be read off the engine while the call waits.
    upstream.behave(text="never whole", latency=3)
    call = asyncio.ensure_future(AsyncClient().post(
        "/v1/completions", {"model": "Echo", "prompt": "x"}, content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"}))
    async with asyncio.timeout(5):
        while not engine.LIVE:
            await asyncio.sleep(0.02)
    await engine.stop(owner, next(iter(engine.LIVE)))
    response = await asyncio.wait_for(call, 5)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "run_cancelled"
    assert "stopped in Playground" in response.json()["error"]["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_call_a_server_shutdown_cuts_short_is_never_answered_as_whole(
    servers, secret, fake_model, upstream, stream
):
    # A deploy stops a server process (SIGTERM): daphne cancels every call
    # in flight and closes its connection, and the run is kept as
    # interrupted with what arrived. The caller sees a broken call (the SDK
    # tries a plain one again), never a 200 or a [DONE] for a part.
    # Streamed: a word every 0.3 s. Not streamed: the answer after 3 s.
    upstream.behave(text="one two three four five six seven eight nine ten",
                    interval=0.3 if stream else 0, latency=0 if stream else 3)
    server = servers()
    body = {"model": "Echo", "prompt": "x", "max_tokens": 50, "stream": stream}
    headers = {"Authorization": f"Bearer {secret}"}
    frames = []
    with httpx.Client(timeout=20) as client, pytest.raises(httpx.RemoteProtocolError):
        if stream:
            with client.stream("POST", f"{server.url}/v1/completions", json=body,
                               headers=headers) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        frames.append(line)
                        if len(frames) == 2:
                            server.process.terminate()
        else:
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                call = pool.submit(client.post, f"{server.url}/v1/completions", json=body,
                                   headers=headers)
                deadline = time.monotonic() + 5
                while not upstream.requests and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(0.3)  # the upstream is thinking
                server.process.terminate()
                call.result()
    assert server.process.wait(15) == 0
    assert not any("[DONE]" in frame for frame in frames)
    run = only_run()
    assert run.status == Run.INTERRUPTED
    if stream:  # what arrived is kept (a plain answer arrives whole, or not)
        assert run.output_text.startswith("one two") and "ten" not in run.output_text
