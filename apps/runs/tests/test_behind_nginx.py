"""The production shape end to end: nginx (deploy/nginx.conf) balances
over two server processes on PostgreSQL + Redis. A page that reloads lands
on the other process and still follows its run; the gateway streams through
the proxy."""

import json
import os
import socket
import subprocess
import time

import httpx
import pytest
from django.conf import settings
from websockets.sync.client import connect

from apps.gateway.models import GatewayKey
from apps.history.models import Run
from testing import nginx as nginx_server
from testing.sessions import session_cookie

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL") or "sqlite" in settings.DATABASES["default"]["ENGINE"],
        reason="several processes share runs through Redis, on PostgreSQL (the production shape)",
    ),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nginx(servers, tmp_path):
    """nginx on a free port in front of two server processes, configured by
    the repository's deploy/nginx.conf (only its ports replaced)."""
    if nginx_server.binary() is None:
        pytest.fail("nginx is not installed; `make test` installs Debian's nginx")
    backends = [servers(), servers()]
    port = free_port()
    process = nginx_server.start(tmp_path, [b.port for b in backends], port,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"nginx did not start: {process.stdout.read().decode()}")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


def page_socket(base, user):
    return connect(base.replace("http://", "ws://") + "/ws/run/", origin=base,
                   additional_headers={"Cookie": session_cookie(user)}, open_timeout=10)


def test_a_reload_behind_the_balancer_follows_the_run_on_the_other_process(
    nginx, owner, fake_model, upstream
):
    words = [f"w{i} " for i in range(40)]
    upstream.behave(chunks=words, interval=0.05)
    message = {"type": "run", "mode": "completions", "model": str(fake_model.uuid),
               "body": {"prompt": "count", "max_tokens": 100}}
    with page_socket(nginx, owner) as ws:
        ws.send(json.dumps(message))
        run_uuid = json.loads(ws.recv(timeout=10))["run"]
        while json.loads(ws.recv(timeout=10))["type"] != "delta":
            pass
    # least_conn: the first reload goes to the other process (the first one
    # may still count the socket just closed; a tie goes in turn), which
    # follows the run live from its owner; the second comes once the run is
    # over and replays it from the database.
    for _ in range(2):
        with page_socket(nginx, owner) as ws:
            ws.send(json.dumps({"type": "subscribe", "run": run_uuid, "after": 0}))
            messages = [json.loads(ws.recv(timeout=10))]
            while messages[-1]["type"] != "done":
                messages.append(json.loads(ws.recv(timeout=10)))
        assert "".join(m["text"] for m in messages if m["type"] == "delta") == "".join(words)
        assert messages[-1]["status"] == "completed"
    assert Run.objects.get(uuid=run_uuid).output_text == "".join(words)


def test_the_gateway_streams_through_the_balancer(nginx, owner, fake_model, upstream):
    upstream.behave(chunks=["through ", "the ", "proxy"], interval=0.05)
    _, secret = GatewayKey.create(owner, "proxy test")
    seen = []
    with httpx.stream("POST", f"{nginx}/v1/completions", timeout=10,
                      headers={"Authorization": f"Bearer {secret}"},
                      json={"model": "Echo", "prompt": "x", "stream": True}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: {"):
                seen.append((time.monotonic(), json.loads(line[6:])["choices"][0]["text"]))
    assert "".join(text for _, text in seen) == "through the proxy"
    # Each chunk arrived as it was sent, not buffered to the end.
    assert seen[-1][0] - seen[0][0] > 0.05
