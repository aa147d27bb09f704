"""Runs across real server processes: a crash (SIGKILL) mid-stream, and a
run watched and stopped through another process than the one driving it
(PostgreSQL + Redis, as behind a load balancer)."""

import json
import os
import threading
import time

import httpx
import pytest
from django.conf import settings
from websockets.sync.client import connect

from apps.history.models import Run
from testing.sessions import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = [f"w{i} " for i in range(100)]


def open_socket(server, user):
    return connect(
        f"ws://127.0.0.1:{server.port}/ws/run/",
        origin=server.url,
        additional_headers={"Cookie": session_cookie(user)},
        open_timeout=10,
    )


def run_message(model):
    return {"type": "run", "mode": "completions", "model": str(model.uuid),
            "body": {"prompt": "count", "max_tokens": 200}}


def receive(ws, timeout=10):
    return json.loads(ws.recv(timeout=timeout))


def start_run(ws, model, deltas):
    """Start a run on the socket and read until `deltas` deltas came:
    (the run's uuid, their texts)."""
    ws.send(json.dumps(run_message(model)))
    run_uuid = receive(ws)["run"]
    texts = []
    while len(texts) < deltas:
        message = receive(ws)
        if message["type"] == "delta":
            texts.append(message["text"])
    return run_uuid, texts


def wait_for(check, timeout=30):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            return found
        time.sleep(0.1)
    return found


def test_a_crash_keeps_every_chunk_up_to_one_checkpoint_interval(
    servers, owner, fake_model, upstream
):
    upstream.behave(chunks=WORDS, interval=0.1)
    lease = "2"
    server = servers(PLAYGROUND_RUN_CHECKPOINT_SECONDS="1", PLAYGROUND_RUN_LEASE_SECONDS=lease)
    received = []  # (when, text) of every delta the client saw
    with open_socket(server, owner) as ws:
        ws.send(json.dumps(run_message(fake_model)))
        run_uuid = receive(ws)["run"]
        while len(received) < 35:
            message = receive(ws)
            if message["type"] == "delta":
                received.append((time.monotonic(), message["text"]))
        server.kill()
        killed = time.monotonic()

    run = Run.objects.get(uuid=run_uuid)
    assert run.status == Run.RUNNING  # nobody could say otherwise yet
    # A server process starts and, within a lease, finds the run orphaned.
    servers(PLAYGROUND_RUN_LEASE_SECONDS=lease)
    run = wait_for(lambda: Run.objects.filter(uuid=run_uuid, status=Run.INTERRUPTED).first())
    assert run is not None, "the orphaned run was not interrupted"
    # Everything the client had seen up to one checkpoint interval before the
    # kill is stored (0.2 s more for the checkpoint's own write).
    safe = "".join(text for when, text in received if when <= killed - 1.0 - 0.2)
    assert len(safe) > 0
    assert run.output_text.startswith(safe)
    assert "".join(text for _, text in received).startswith(run.output_text)
    assert run.error_code == "interrupted"


def test_a_clean_stop_stores_the_runs_in_flight_as_interrupted(
    servers, owner, fake_model, upstream
):
    # A gateway plain call (its first save waits for the answer: here longer
    # than the test) and a streamed playground run, both under way when the
    # server is told to stop (SIGTERM, as `make run`'s Ctrl-C or a deploy):
    # both are stored as interrupted, the stream with every chunk it had.
    from apps.gateway.models import GatewayKey

    _, secret = GatewayKey.create(owner, "clean stop")
    upstream.behave_once(latency=30)  # the plain call's answer never comes in time
    upstream.behave(chunks=WORDS, interval=0.05)
    server = servers(PLAYGROUND_RUN_CHECKPOINT_SECONDS="60")
    answered = []

    def call():
        try:
            answered.append(httpx.post(
                f"{server.url}/v1/chat/completions", timeout=30,
                headers={"Authorization": f"Bearer {secret}"},
                json={"model": "Echo", "messages": [{"role": "user", "content": "Hi"}]}))
        except httpx.HTTPError as exc:
            answered.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert wait_for(lambda: len(upstream.requests) == 1, timeout=10)
    with open_socket(server, owner) as ws:
        run_uuid, received = start_run(ws, fake_model, 10)
        server.stop()
        assert server.process.returncode is not None
    caller.join(10)

    assert isinstance(answered[0], httpx.HTTPError)  # the call was cut off
    runs = {run.source: run for run in Run.objects.all()}
    assert set(runs) == {"gateway", "playground"}
    assert runs["gateway"].status == Run.INTERRUPTED
    assert runs["gateway"].request["messages"] == [{"role": "user", "content": "Hi"}]
    streamed = runs["playground"]
    assert str(streamed.uuid) == run_uuid and streamed.status == Run.INTERRUPTED
    assert streamed.output_text.startswith("".join(received))


redis_only = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or "sqlite" in settings.DATABASES["default"]["ENGINE"],
    reason="two processes share runs through Redis, on PostgreSQL (the production shape)",
)


@redis_only
def test_a_run_is_watched_and_stopped_through_another_process(
    servers, owner, fake_model, upstream
):
    upstream.behave(chunks=WORDS, interval=0.05)
    a, b = servers(), servers()
    with open_socket(a, owner) as ws:
        run_uuid, seen_on_a = start_run(ws, fake_model, 10)
    # The page reloads, and the load balancer sends it to the other process.
    with open_socket(b, owner) as ws:
        ws.send(json.dumps({"type": "subscribe", "run": run_uuid, "after": 0}))
        messages = []
        while sum(m["type"] == "delta" for m in messages) < 30:
            messages.append(receive(ws))
        ws.send(json.dumps({"type": "stop", "run": run_uuid}))
        stopped = time.monotonic()
        assert upstream.wait_disconnect(1.0)
        assert time.monotonic() - stopped < 1.0
        while messages[-1]["type"] != "done":
            messages.append(receive(ws))

    assert all(m["run"] == run_uuid for m in messages)
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(1, len(seqs) + 1))  # from the start, once each, in order
    text = "".join(m["text"] for m in messages if m["type"] == "delta")
    assert text.startswith("".join(seen_on_a))
    assert messages[-1]["status"] == "cancelled"
    run = Run.objects.get(uuid=run_uuid)
    assert run.status == Run.CANCELLED and run.output_text == text


@redis_only
def test_a_run_not_stored_yet_is_watched_through_another_process(
    servers, owner, fake_model, upstream
):
    # A stream's first save waits for the upstream's 200 (here 1 s away): a
    # page reloaded onto another process in the meantime finds the run all
    # the same, through the process that drives it.
    upstream.behave(chunks=WORDS[:20], interval=0.02, latency=1.0)
    env = {"PLAYGROUND_RUN_CHECKPOINT_SECONDS": "60"}
    a, b = servers(**env), servers(**env)
    with open_socket(a, owner) as ws:
        ws.send(json.dumps(run_message(fake_model)))
        run_uuid = receive(ws)["run"]
    assert not Run.objects.filter(uuid=run_uuid).exists()
    with open_socket(b, owner) as ws:
        ws.send(json.dumps({"type": "subscribe", "run": run_uuid, "after": 0}))
        messages = [receive(ws)]
        while messages[-1]["type"] != "done":
            messages.append(receive(ws))

    assert "".join(m["text"] for m in messages if m["type"] == "delta") == "".join(WORDS[:20])
    assert messages[-1]["status"] == "completed"
    assert Run.objects.get(uuid=run_uuid).output_text == "".join(WORDS[:20])


@redis_only
def test_a_page_watching_through_another_process_hears_its_owner_died(
    servers, owner, fake_model, upstream
):
    # The process that drives the run is killed while a page watches the run
    # through another one: the page is told the run was interrupted (once
    # the dead process's lease ran out), not left waiting for ever.
    upstream.behave(chunks=WORDS, interval=0.1)
    env = {"PLAYGROUND_RUN_LEASE_SECONDS": "2"}
    a, b = servers(**env), servers(**env)
    with open_socket(a, owner) as ws_a, open_socket(b, owner) as ws_b:
        run_uuid, _ = start_run(ws_a, fake_model, 3)
        ws_b.send(json.dumps({"type": "subscribe", "run": run_uuid, "after": 0}))
        messages = []
        while sum(m["type"] == "delta" for m in messages) < 5:
            messages.append(receive(ws_b))
        a.kill()
        while messages[-1]["type"] != "done":
            messages.append(receive(ws_b, timeout=30))

    assert messages[-1]["status"] == "interrupted"
    run = Run.objects.get(uuid=run_uuid)
    assert run.status == Run.INTERRUPTED
    text = "".join(m["text"] for m in messages if m["type"] == "delta")
    assert text.startswith(run.output_text)
    assert run.output_text in messages[-1]["html"]
