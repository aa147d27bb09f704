"""A playground socket left idle stays open, in the production shape.

On Redis the consumer's channel-layer listener blocks in BZPOPMIN; a client
read timeout shorter than that block closed every idle socket (1011) after a
few seconds. This keeps a socket idle well past any such timeout, against a
real daphne server, and then runs.
"""

import json
import os
import time

import pytest
from websockets.sync.client import connect

from .conftest import session_cookie
from .test_consumer import run_message

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the production shape (REDIS_URL)"),
]

IDLE_SECONDS = 30


def test_it_keeps_an_idle_socket_open_and_runs_afterwards(app_url, owner, fake_model, upstream):
    upstream.behave(chunks=["still", " here"])
    ws_url = app_url.replace("http://", "ws://") + "/ws/run/"
    cookie = {"Cookie": session_cookie(owner)}
    with connect(ws_url, origin=app_url, additional_headers=cookie) as ws:
        time.sleep(IDLE_SECONDS)
        ws.send(json.dumps(run_message(fake_model)))
        messages = []
        while not messages or messages[-1]["type"] != "done":
            messages.append(json.loads(ws.recv(timeout=15)))
    assert messages[-1]["status"] == "completed"
    assert "".join(m["text"] for m in messages if m["type"] == "delta") == "still here"


def test_it_reads_the_channel_layer_longer_than_it_blocks():
    # Without a server and 30 s: the configured read timeout, as the layer
    # really builds its connections, outlasts the layer's blocking pop.
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    read_timeout = layer.create_pool(0).connection_kwargs["socket_timeout"]
    assert read_timeout is not None and read_timeout >= 2 * layer.brpop_timeout
