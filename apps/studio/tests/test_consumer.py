"""The playground websocket against the real test upstream, through the full
ASGI stack (origin validation, session auth, the consumer, the adapter)."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from apps.history.models import Conversation, Run

from .conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def run_message(model, mode="completions", conversation=None, **body):
    if mode == "completions":
        body.setdefault("prompt", "Say hello")
    else:
        body.setdefault("messages", [{"role": "user", "content": "Say hello"}])
    body.setdefault("stream", True)
    return {
        "type": "run",
        "mode": mode,
        "model": str(model.uuid),
        "conversation": conversation,
        "body": body,
    }


@database_sync_to_async
def get_run(uuid):
    return Run.objects.get(uuid=uuid)


def deltas_text(messages, index=0):
    return "".join(m["text"] for m in messages if m["type"] == "delta" and m["index"] == index)


async def test_it_streams_a_completion_and_keeps_the_run(connect, owner, fake_model, upstream):
    upstream.behave(chunks=["Hello", ", ", "world"], interval=0.01)
    ws, connected, _ = await connect(owner)
    assert connected
    await ws.send_json_to(run_message(fake_model, temperature=0.5, max_tokens=20))

    messages = await receive_until(ws, "done")
    started = messages[0]
    assert started["type"] == "started"
    assert [m["text"] for m in messages if m["type"] == "delta"] == ["Hello", ", ", "world"]
    done = messages[-1]
    assert done["status"] == "completed"
    assert "Completed" in done["html"]

    run = await get_run(started["run"])
    assert run.status == Run.COMPLETED
    assert run.output_text == "Hello, world"
    assert run.request["temperature"] == 0.5 and run.request["max_tokens"] == 20
    assert run.request["model"] == "echo-1"
    assert run.response["choices"][0]["text"] == "Hello, world"
    assert run.response["choices"][0]["finish_reason"] == "stop"
    assert run.ttft_ms is not None and run.duration_ms >= run.ttft_ms
    # What the upstream received is exactly what the run says was sent.
    assert upstream.requests[-1].json == run.request
    await ws.disconnect()


async def test_it_streams_each_choice_of_n_separately(connect, owner, fake_model, upstream):
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model, n=2, prompt="cats"))
    messages = await receive_until(ws, "done")
    assert deltas_text(messages, 0).startswith("Echo #0")
    assert deltas_text(messages, 1).startswith("Echo #1")
    run = await get_run(messages[0]["run"])
    assert [c["index"] for c in run.response["choices"]] == [0, 1]
    await ws.disconnect()


async def test_it_stops_a_run_and_keeps_the_partial_text(connect, owner, fake_model, upstream):
    upstream.behave(chunks=["one ", "two ", "three "], stall_after=2)
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model))
    await receive_until(ws, "delta")
    await receive_until(ws, "delta")
    await ws.send_json_to({"type": "stop"})
    messages = await receive_until(ws, "done")
    assert messages[-1]["status"] == "cancelled"
    # Stop closed the upstream request.
    assert await upstream.wait_for_disconnect(1.0)

    runs = await database_sync_to_async(list)(Run.objects.all())
    assert len(runs) == 1
    assert runs[0].status == Run.CANCELLED
    assert runs[0].output_text == "one two "
    await ws.disconnect()


async def test_it_keeps_an_interrupted_run_when_the_page_stays_away_past_the_grace_period(
    connect, owner, fake_model, upstream, settings
):
    settings.RUN_GRACE_SECONDS = 0.3
    upstream.behave(chunks=["partial ", "text ", "never"], stall_after=2)
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model))
    await receive_until(ws, "delta")
    await receive_until(ws, "delta")
    await ws.disconnect()
    # Not at once: a reload would pick the run up again...
    assert not await upstream.wait_for_disconnect(0.15)
    # ...but nobody came back.
    assert await upstream.wait_for_disconnect(1.0)

    run = await database_sync_to_async(Run.objects.get)()
    for _ in range(50):
        if run.status != Run.RUNNING:
            break
        await asyncio.sleep(0.02)
        run = await database_sync_to_async(Run.objects.get)()
    assert run.status == Run.INTERRUPTED
    assert run.output_text == "partial text "


async def test_it_picks_a_run_up_again_after_a_reload(connect, owner, fake_model, upstream):
    upstream.behave(chunks=["one ", "two ", "three ", "four"], interval=0.15)
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model))
    first = await receive_until(ws, "delta")
    run_uuid = first[0]["run"]
    await ws.disconnect()  # the reload

    again, _, _ = await connect(owner)
    await again.send_json_to({"type": "subscribe", "run": run_uuid, "after": 0})
    messages = await receive_until(again, "done")
    assert all(m["run"] == run_uuid for m in messages)
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(set(seqs))  # each event once, in order
    assert deltas_text(messages) == "one two three four"
    assert messages[-1]["status"] == "completed"
    assert (await get_run(run_uuid)).output_text == "one two three four"
    await again.disconnect()


async def test_it_shows_validation_errors_by_field_and_starts_nothing(
    connect, owner, fake_model, upstream
):
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model, temperature=5, stop=["a", "b", "c", "d", "e"]))
    message = await ws.receive_json_from(timeout=5)
    assert message["type"] == "errors"
    by_field = {e["field"]: e["message"] for e in message["errors"]}
    assert by_field["temperature"] == "temperature must be between 0 and 2"
    assert by_field["stop"] == "stop accepts at most 4 sequences"
    assert await database_sync_to_async(Run.objects.count)() == 0
    assert upstream.requests == []
    await ws.disconnect()


async def test_it_refuses_a_model_that_is_not_enabled(connect, owner, fake_model):
    fake_model.enabled = False
    await database_sync_to_async(fake_model.save)()
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model))
    message = await ws.receive_json_from(timeout=5)
    assert message == {
        "type": "errors",
        "errors": [{"field": "model", "message": "choose a model that serves completions"}],
    }
    await ws.disconnect()


async def test_it_stores_an_upstream_failure_without_the_key(connect, owner, fake_model, upstream):
    upstream.behave(status=500, error="the GPU caught fire")
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model))
    messages = await receive_until(ws, "done")
    errors = [m for m in messages if m["type"] == "error"]
    assert len(errors) == 1
    assert messages[-1]["status"] == "failed"

    run = await get_run(messages[0]["run"])
    assert run.status == Run.FAILED
    assert run.error
    everything = f"{messages} {run.error} {run.request} {run.response}"
    assert "sk-test-secret-key-0123456789" not in everything


async def test_it_stores_a_stream_dropped_by_the_upstream_as_failed_with_its_text(
    connect, owner, fake_model, upstream
):
    upstream.behave(chunks=["kept ", "until ", "the drop"], drop_after=2)
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model))
    messages = await receive_until(ws, "done")
    run = await get_run(messages[0]["run"])
    assert run.status == Run.FAILED
    assert run.output_text == "kept until "


async def test_it_continues_a_chat_and_keeps_the_thread(connect, owner, fake_model, upstream):
    upstream.behave(text="Hi there")
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model, mode="chat"))
    first = await receive_until(ws, "done")
    assert first[-1]["reply"] == {"role": "assistant", "content": "Hi there", "refusal": None}
    conversation = first[0]["conversation"]

    upstream.behave(text="Fine, thanks")
    thread = [
        {"role": "user", "content": "Say hello"},
        {"role": "assistant", "content": "Hi there"},
        {"role": "user", "content": "How are you?"},
    ]
    await ws.send_json_to(
        run_message(fake_model, mode="chat", conversation=conversation, messages=thread)
    )
    second = await receive_until(ws, "done")
    assert second[0]["conversation"] == conversation
    assert upstream.requests[-1].json["messages"] == thread

    conv = await database_sync_to_async(Conversation.objects.get)(uuid=conversation)
    stored = await database_sync_to_async(conv.thread)()
    assert [m["content"] for m in stored] == [
        "Say hello",
        "Hi there",
        "How are you?",
        "Fine, thanks",
    ]
    assert await database_sync_to_async(conv.runs.count)() == 2
    await ws.disconnect()


async def test_it_refuses_to_continue_someone_elses_conversation(
    connect, owner, outsider, fake_model, upstream
):
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model, mode="chat"))
    conversation = (await receive_until(ws, "done"))[0]["conversation"]
    await ws.disconnect()

    intruder, _, _ = await connect(outsider)
    await intruder.send_json_to(run_message(fake_model, mode="chat", conversation=conversation))
    message = await intruder.receive_json_from(timeout=5)
    assert message == {
        "type": "errors",
        "errors": [{"field": "conversation", "message": "conversation not found"}],
    }
    assert await database_sync_to_async(Run.objects.filter(owner=outsider).count)() == 0
    await intruder.disconnect()


async def test_it_refuses_anonymous_users(connect, db):
    # Accepted and closed at once with 4401, so that the page can tell
    # "signed out" from a network error (a refused handshake is 1006).
    communicator, connected, _ = await connect(None)
    assert connected
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close",
                                                            "code": 4401}


async def test_it_refuses_a_foreign_origin(connect, owner):
    _, connected, _ = await connect(owner, origin="https://evil.example")
    assert not connected
    # And holds nothing on the channel layer for the refused socket (with
    # Redis, a receive that a lost cancellation left reading hung the loop).
    receiving = [t for t in asyncio.all_tasks()
                 if "ChannelLayer.receive" in t.get_coro().__qualname__]
    assert receiving == []


async def test_it_carries_several_runs_on_one_socket(connect, owner, fake_model, upstream):
    upstream.behave(chunks=["a", "b", "c", "d"], interval=0.05)
    ws, _, _ = await connect(owner)
    first, second = run_message(fake_model, prompt="one"), run_message(fake_model, prompt="two")
    await ws.send_json_to({"type": "run", "runs": [{**first, "ref": "left"},
                                                   {**second, "ref": "right"}]})
    messages, done = [], 0
    while done < 2:
        message = await ws.receive_json_from(timeout=10)
        messages.append(message)
        done += message["type"] == "done"
    started = {m["ref"]: m["run"] for m in messages if m["type"] == "started"}
    assert set(started) == {"left", "right"} and started["left"] != started["right"]
    for run_uuid in started.values():
        mine = [m for m in messages if m.get("run") == run_uuid and m["type"] == "delta"]
        assert "".join(m["text"] for m in mine) == "abcd"
    runs = {r.uuid.hex: r for r in await database_sync_to_async(list)(Run.objects.all())}
    assert {r.prompt_text for r in runs.values()} == {"one", "two"}
    await ws.disconnect()


async def test_it_stops_one_run_and_leaves_the_other(connect, owner, fake_model, upstream):
    upstream.behave(chunks=["x"] * 40, interval=0.05)
    ws, _, _ = await connect(owner)
    await ws.send_json_to({"type": "run", "runs": [{**run_message(fake_model), "ref": "a"},
                                                   {**run_message(fake_model), "ref": "b"}]})
    started = {}
    while len(started) < 2:
        message = await ws.receive_json_from(timeout=5)
        if message["type"] == "started":
            started[message["ref"]] = message["run"]
    await ws.send_json_to({"type": "stop", "run": started["a"]})
    finished = {}
    while len(finished) < 2:
        message = await ws.receive_json_from(timeout=10)
        if message["type"] == "done":
            finished[message["run"]] = message["status"]
    assert finished == {started["a"]: "cancelled", started["b"]: "completed"}
    await ws.disconnect()


async def test_it_runs_without_streaming_when_stream_is_off(connect, owner, fake_model, upstream):
    upstream.behave(text="all at once")
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model, stream=False))
    messages = await receive_until(ws, "done")
    assert deltas_text(messages) == "all at once"
    run = await get_run(messages[0]["run"])
    assert run.status == Run.COMPLETED
    assert "stream" not in upstream.requests[-1].json
    assert upstream.requests[-1].json == run.request
    await ws.disconnect()


async def test_it_tells_the_user_which_fields_the_model_does_not_accept(
    connect, owner, fake_model, upstream
):
    fake_model.accepted_fields = ["model", "prompt", "stream", "stream_options", "temperature"]
    await database_sync_to_async(fake_model.save)()
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model, temperature=0.2, echo=True))
    messages = await receive_until(ws, "done")
    notices = [m for m in messages if m["type"] == "notice"]
    assert [(m["field"], m["message"]) for m in notices] == [
        ("echo", "echo-1 does not accept echo; it was not sent")
    ]
    assert "echo" not in upstream.requests[-1].json
    run = await get_run(messages[0]["run"])
    assert "echo" not in run.request
    assert run.notices[0]["field"] == "echo"


def message_without_stream(model, **body):
    message = run_message(model, **body)
    del message["body"]["stream"]
    return message


async def test_it_validates_the_stream_it_will_send_when_stream_is_unset(
    connect, owner, fake_model, upstream
):
    ws, _, _ = await connect(owner)
    # Unset stream means a streamed run, so best_of > 1 is refused as for stream=true...
    await ws.send_json_to(message_without_stream(fake_model, best_of=3, n=1))
    message = await ws.receive_json_from(timeout=5)
    assert message["type"] == "errors"
    assert [e["field"] for e in message["errors"]] == ["best_of"]
    # ...and stream_options, which needs a stream, is accepted.
    usage = {"include_usage": True}
    await ws.send_json_to(message_without_stream(fake_model, stream_options=usage))
    messages = await receive_until(ws, "done")
    assert messages[-1]["status"] == "completed"
    assert upstream.last.json["stream"] is True
    await ws.disconnect()


async def test_it_refuses_a_model_whose_key_cannot_be_decrypted_and_keeps_the_socket(
    connect, owner, fake_model, upstream
):
    from cryptography.fernet import Fernet
    from django.test import override_settings

    def lose_the_key():
        with override_settings(FERNET_KEYS=[Fernet.generate_key().decode()]):
            provider = fake_model.provider
            provider.api_key = "sk-under-a-key-this-server-lost-0123"
            provider.save()

    await database_sync_to_async(lose_the_key)()
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model))
    message = await ws.receive_json_from(timeout=5)
    assert message["type"] == "errors"
    assert message["errors"][0]["field"] == "model"
    assert "cannot be decrypted" in message["errors"][0]["message"]
    assert upstream.requests == []
    # The socket is still open: another message is answered.
    await ws.send_json_to({"type": "nonsense"})
    assert (await ws.receive_json_from(timeout=5))["type"] == "errors"
    await ws.disconnect()
