"""A call's objects go when it is done (reference counting), not at the
cyclic collector's next full pass: with a reference cycle per call, a full
collection under load freed tens of thousands of objects at once, a pause of
~100 ms that set the gateway's p99 (bench/README.md, session 10). The calls
go through the ASGI application itself, as daphne makes them (the page's
handler and the /v1 one are chosen there), against the test upstream."""

import asyncio
import collections
import gc
import json

import pytest

from playground.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

CONNECTIONS_AND_CONTAINERS = {"socket", "TransportSocket", "_SelectorSocketTransport", "method",
                              "tuple", "list", "dict", "cell", "function", "deque"}


async def call(secret, body, hang_up=False):
    """One call as daphne makes it: the request, then (once answered, or
    with `hang_up` once the first text arrived) the client's disconnect.
    Returns the answer's status and body."""
    payload = json.dumps(body).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {secret}".encode()),
                    (b"content-length", str(len(payload)).encode())],
    }
    answered, asked = asyncio.Event(), False
    out = {"status": None, "body": b""}

    async def receive():
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        else:
            out["body"] += message.get("body", b"")
            if not message.get("more_body") or (hang_up and b"w1" in out["body"]):
                answered.set()

    await application(scope, receive, send)
    return out


async def assert_no_cycles(calls, count, settle):
    """`calls()` `count` times, after `settle` s more for the runs to be
    stored, nothing the calls made may be left in a reference cycle."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(count):
            await calls()
        await asyncio.sleep(settle)
        found = gc.collect()
        kinds = collections.Counter(type(o).__qualname__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    # The test upstream closes every connection (`Connection: close`), and a
    # closed asyncio transport is collected as a cycle (asyncio's own, at
    # both ends; a real upstream keeps its connection). Nothing else may be.
    ours = {kind: n for kind, n in kinds.items() if kind not in CONNECTIONS_AND_CONTAINERS}
    assert not ours, f"{found} objects in cycles after {count} calls: {kinds.most_common(12)}"


@pytest.mark.parametrize("stream", [False, True])
async def test_a_gateway_call_leaves_no_reference_cycle_behind(secret, fake_model, upstream,
                                                             stream):
    upstream.behave(chunks=["one ", "two"])
    body = {"model": "Echo", "messages": [{"role": "user", "content": "x"}], "stream": stream}
    for _ in range(3):  # first calls fill caches and pools
        assert (await call(secret, body))["status"] == 200
    await asyncio.sleep(0.3)  # their Runs stored

    async def whole():
        answer = await call(secret, body)
        assert answer["status"] == 200 and b"two" in answer["body"]

    await assert_no_cycles(whole, 10, 0.3)


async def test_a_client_that_hangs_up_mid_stream_leaves_no_cycle_behind(secret, fake_model,
                                                                       upstream):
    # The stream's frames are sent from the run's task; a client that hangs
    # up cancels the response, which must let go of the run (kept as
    # interrupted, with what arrived) and of everything the call made.
    from asgiref.sync import sync_to_async

    from apps.history.models import Run

    upstream.behave(chunks=[f"w{i} " for i in range(40)], interval=0.02)
    body = {"model": "Echo", "messages": [{"role": "user", "content": "x"}], "stream": True}
    for _ in range(2):
        await call(secret, body, hang_up=True)
    await asyncio.sleep(0.5)

    async def cut():
        answer = await call(secret, body, hang_up=True)
        assert answer["status"] == 200 and b"w1" in answer["body"]
        assert b"w39" not in answer["body"]

    await assert_no_cycles(cut, 5, 0.5)
    runs = await sync_to_async(list)(Run.objects.values_list("status", "output_text"))
    assert len(runs) == 7
    for status, text in runs:
        assert status == Run.INTERRUPTED
        assert text.startswith("w0 w1") and "w39" not in text
