"""Several panes on one websocket against the real test upstream: they stream
at the same time, each event reaches its own pane, Stop and errors stay in
their pane."""

import pytest
from channels.db import database_sync_to_async

from apps.history.models import Run

from .conftest import receive_all_done

pytestmark = pytest.mark.django_db(transaction=True)


def pane(ref, model, prompt, **body):
    return {"ref": ref, "mode": "completions", "model": str(model.uuid), "conversation": None,
            "body": {"prompt": prompt, "max_tokens": 100, **body}, "source": "compare"}


def by_run(messages):
    """{run id: its messages}, and {ref: run id} from the started messages."""
    refs = {m["ref"]: m["run"] for m in messages if m["type"] == "started"}
    runs = {run: [m for m in messages if m.get("run") == run and m["type"] != "started"]
            for run in refs.values()}
    return refs, runs


def text(messages):
    return "".join(m["text"] for m in messages if m["type"] == "delta")


@database_sync_to_async
def stored(run_uuid):
    return Run.objects.get(uuid=run_uuid)


async def test_it_streams_three_panes_at_once_each_into_its_own(connect, owner, fake_model,
                                                                upstream):
    upstream.behave(interval=0.03)  # "Echo: <prompt>" word by word
    ws = await connect(owner)
    await ws.send_json_to({"type": "run", "runs": [
        pane("a", fake_model, "alpha one two three four", temperature=0.2),
        pane("b", fake_model, "beta one two three four", temperature=0.9),
        pane("c", fake_model, "gamma one two three four", seed=7),
    ]})
    messages = await receive_all_done(ws, 3)
    refs, runs = by_run(messages)

    assert set(refs) == {"a", "b", "c"} and len(set(refs.values())) == 3
    for ref, word in (("a", "alpha"), ("b", "beta"), ("c", "gamma")):
        events = runs[refs[ref]]
        # Every delta of a pane's run is its own text, numbered in order.
        assert text(events) == f"Echo: {word} one two three four"
        assert [m["seq"] for m in events] == sorted(m["seq"] for m in events)
        assert events[-1]["type"] == "done" and events[-1]["status"] == "completed"
        run = await stored(refs[ref])
        assert run.output_text == text(events) and run.source == "compare"
    # They streamed together: deltas of the three runs interleave.
    order = [m["run"] for m in messages if m["type"] == "delta"]
    first_ends = max(i for i, r in enumerate(order) if r == refs["a"])
    assert any(r != refs["a"] for r in order[:first_ends])
    assert (await stored(refs["a"])).request["temperature"] == 0.2
    assert (await stored(refs["c"])).request["seed"] == 7
    await ws.disconnect()


async def test_it_stops_one_pane_and_the_others_go_on(connect, owner, fake_model, upstream):
    upstream.behave(chunks=["tick "] * 20, interval=0.05)
    ws = await connect(owner)
    await ws.send_json_to({"type": "run", "runs": [
        pane("a", fake_model, "a"), pane("b", fake_model, "b"), pane("c", fake_model, "c"),
    ]})
    messages = []
    while not (messages and messages[-1]["type"] == "delta"
               and messages[-1]["run"] == _ref(messages, "b")):
        messages.append(await ws.receive_json_from(timeout=5))
    await ws.send_json_to({"type": "stop", "run": _ref(messages, "b")})
    messages += await receive_all_done(ws, 3)
    refs, runs = by_run(messages)

    assert runs[refs["b"]][-1]["status"] == "cancelled"
    assert len(text(runs[refs["b"]])) < len("tick " * 20)
    for ref in ("a", "c"):
        assert runs[refs[ref]][-1]["status"] == "completed"
        assert text(runs[refs[ref]]) == "tick " * 20
    assert (await stored(refs["b"])).status == Run.CANCELLED
    await ws.disconnect()


def _ref(messages, ref):
    return next((m["run"] for m in messages if m["type"] == "started" and m["ref"] == ref), None)


async def test_it_keeps_one_panes_upstream_error_in_that_pane(connect, owner, fake_model,
                                                              locked_model, upstream):
    upstream.require_key("sk-test-secret-key-0123456789")  # fake_model's key
    upstream.behave(interval=0.02)
    ws = await connect(owner)
    await ws.send_json_to({"type": "run", "runs": [
        pane("a", fake_model, "first pane"), pane("b", locked_model, "second pane"),
        pane("c", fake_model, "third pane"),
    ]})
    messages = await receive_all_done(ws, 3)
    refs, runs = by_run(messages)

    failed = runs[refs["b"]]
    assert [m["type"] for m in failed if m["type"] == "error"] == ["error"]
    assert failed[-1]["status"] == "failed"
    assert (await stored(refs["b"])).status == Run.FAILED
    for ref, prompt in (("a", "first pane"), ("c", "third pane")):
        events = runs[refs[ref]]
        assert not [m for m in events if m["type"] == "error"]
        assert events[-1]["status"] == "completed" and text(events) == f"Echo: {prompt}"
    await ws.disconnect()
