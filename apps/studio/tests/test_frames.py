"""Bad websocket frames get an answer naming the problem; the socket stays
open and still runs a valid request. Nothing is logged above WARNING."""

import json
import logging

import pytest
from websockets.sync.client import connect

from testing.sessions import session_cookie

from .test_consumer import receive_until, run_message

pytestmark = pytest.mark.django_db(transaction=True)


async def still_runs(ws, model):
    await ws.send_json_to(run_message(model))
    assert (await receive_until(ws, "done"))[-1]["status"] == "completed"


@pytest.mark.parametrize(("frame", "said"), [
    ("not json at all", "the message is not JSON"),
    ('{"type": "run", "mode": "chat"', "the message is not JSON"),
    ("", "the message is not JSON"),
    ("[" * 10_000 + "]" * 10_000, "nested too deeply"),
    ("[1, 2]", "the message must be a JSON object"),
    ('{"type": "dance"}', "type must be run, subscribe or stop"),
])
async def test_a_bad_text_frame_gets_an_error_and_the_socket_stays(
    connect, owner, fake_model, upstream, caplog, frame, said
):
    caplog.set_level(logging.WARNING)
    ws, _, _ = await connect(owner)
    await ws.send_input({"type": "websocket.receive", "text": frame})  # "" included
    answer = await ws.receive_json_from(timeout=5)
    assert answer["type"] == "errors"
    assert said in answer["errors"][0]["message"]
    await still_runs(ws, fake_model)
    assert not [r for r in caplog.records if r.levelno > logging.WARNING]
    await ws.disconnect()


async def test_a_binary_frame_gets_an_error_and_the_socket_stays(
    connect, owner, fake_model, upstream
):
    ws, _, _ = await connect(owner)
    await ws.send_to(bytes_data=b"\x00\x01binary")
    answer = await ws.receive_json_from(timeout=5)
    assert answer["errors"][0]["message"] == "send JSON text frames, not binary ones"
    await still_runs(ws, fake_model)
    await ws.disconnect()


async def test_a_bad_after_or_unknown_run_is_refused_by_name(connect, owner, fake_model):
    ws, _, _ = await connect(owner)
    await ws.send_json_to({"type": "subscribe", "run": "nope", "after": -1})
    assert (await ws.receive_json_from(timeout=5))["errors"][0]["field"] == "after"
    await ws.send_json_to({"type": "subscribe", "run": "nope"})
    answer = await ws.receive_json_from(timeout=5)
    assert answer["errors"] == [{"field": "run", "message": "run not found"}]
    await ws.disconnect()


def test_an_oversized_message_gets_a_clear_error_from_the_real_server(
    app_url, owner, fake_model, upstream, settings
):
    # Through daphne, as started in production: above its default 1 MiB
    # ceiling and above the app's limit (PLAYGROUND_MAX_MESSAGE_BYTES).
    cookie = session_cookie(owner)
    limit = settings.PLAYGROUND_MAX_MESSAGE_BYTES
    url = app_url.replace("http://", "ws://") + "/ws/run/"
    with connect(url, origin=app_url, additional_headers={"Cookie": cookie},
                 max_size=None) as ws:
        big = run_message(fake_model, prompt="x" * (limit + 10))
        ws.send(json.dumps(big))
        answer = json.loads(ws.recv(timeout=10))
        assert answer["type"] == "errors"
        assert answer["errors"][0]["message"] == f"the message is larger than {limit} bytes"
        # Between daphne's default ceiling and the app's limit: a run.
        fits = run_message(fake_model, prompt="y" * (2 * 1024 * 1024))
        ws.send(json.dumps(fits))
        messages = [json.loads(ws.recv(timeout=10))]
        while messages[-1]["type"] != "done":
            messages.append(json.loads(ws.recv(timeout=10)))
        assert messages[0]["type"] == "started"
