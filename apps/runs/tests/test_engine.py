"""The run engine against the real test upstream (testing/upstream.py), in
one process: subscribers, stop, grace, checkpoints, leases, replays."""

import asyncio
import contextlib
import threading
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from apps.history.models import Run
from apps.inference import Delta, Meta, Notice
from apps.runs import engine, hub, keeper, specs
from apps.runs.engine import Subscriber
from apps.runs.protocol import Ended

pytestmark = pytest.mark.django_db(transaction=True)


class Watcher:
    """A subscriber that keeps what it is sent."""

    def __init__(self):
        self.events = []
        self.ended = asyncio.Event()
        self.subscriber = Subscriber(self.send)

    async def send(self, seq, event):
        self.events.append((seq, event))
        if isinstance(event, Ended):
            self.ended.set()

    @property
    def seqs(self):
        return [seq for seq, _ in self.events]

    @property
    def text(self):
        return "".join(e.text for _, e in self.events if isinstance(e, Delta))

    @property
    def status(self):
        return self.events[-1][1].status if self.ended.is_set() else None

    async def until(self, deltas=0, timeout=5):
        async with asyncio.timeout(timeout):
            while sum(isinstance(e, Delta) for _, e in self.events) < deltas:
                await asyncio.sleep(0.01)

    async def until_end(self, timeout=10):
        await asyncio.wait_for(self.ended.wait(), timeout)


def page_message(model, **body):
    body.setdefault("prompt", "Say hello")
    return {"mode": "completions", "model": str(model.uuid), "body": body}


async def start(user, model, watcher=None, **body):
    spec = await database_sync_to_async(specs.from_page)(user, page_message(model, **body))
    return await engine.start(spec, watcher.subscriber if watcher else None)


@database_sync_to_async
def stored(live):
    return Run.objects.get(uuid=live.uuid)


async def until_stored(live, timeout):
    """The Run, as soon as it is in the database (TimeoutError if not by then)."""
    async with asyncio.timeout(timeout):
        while not await database_sync_to_async(Run.objects.filter(uuid=live.uuid).exists)():
            await asyncio.sleep(0.02)
    return await stored(live)


async def test_it_gives_a_late_subscriber_every_event_once_in_order(owner, fake_model, upstream):
    upstream.behave(chunks=["a", "b", "c", "d", "e", "f"], interval=0.05)
    first, late = Watcher(), Watcher()
    live = await start(owner, fake_model, first)
    await first.until(deltas=3)
    await engine.subscribe(owner, live.uuid, late.subscriber)
    await first.until_end()
    await late.until_end()

    assert late.seqs == list(range(1, len(late.events) + 1))
    assert late.events == first.events
    assert late.text == "abcdef" and late.status == Run.COMPLETED


async def test_it_resumes_a_subscriber_after_the_last_event_it_saw(owner, fake_model, upstream):
    upstream.behave(chunks=["a", "b", "c", "d"], interval=0.05)
    first, resumed = Watcher(), Watcher()
    live = await start(owner, fake_model, first)
    await first.until(deltas=2)
    seen = first.seqs[-1]
    await engine.subscribe(owner, live.uuid, resumed.subscriber, after=seen)
    await resumed.until_end()
    assert resumed.seqs[0] == seen + 1
    assert [e for _, e in first.events[:seen]] + [e for _, e in resumed.events] == [
        e for _, e in first.events
    ]


async def test_two_subscribers_see_the_same_run(owner, fake_model, upstream):
    upstream.behave(chunks=["x", "y", "z"], interval=0.03)
    one, two = Watcher(), Watcher()
    live = await start(owner, fake_model, one)
    await engine.subscribe(owner, live.uuid, two.subscriber)
    await one.until_end()
    await two.until_end()
    assert one.events == two.events and one.text == "xyz"


async def test_a_second_subscriber_stops_the_run(owner, fake_model, upstream):
    upstream.behave(chunks=["kept "] * 3 + ["never"] * 20, interval=0.1)
    starter, other = Watcher(), Watcher()
    live = await start(owner, fake_model, starter)
    await engine.subscribe(owner, live.uuid, other.subscriber)
    await other.until(deltas=3)
    await engine.stop(owner, live.uuid)
    assert await upstream.wait_for_disconnect(1.0)
    await starter.until_end()
    assert starter.status == other.status == Run.CANCELLED
    run = await stored(live)
    assert run.status == Run.CANCELLED
    assert run.output_text == starter.text and run.output_text.startswith("kept kept kept ")


async def test_nobody_else_can_watch_or_stop_a_run(owner, outsider, fake_model, upstream):
    upstream.behave(chunks=["mine"] * 5, interval=0.05)
    watcher = Watcher()
    live = await start(owner, fake_model, watcher)
    with pytest.raises(engine.NotFound):
        await engine.subscribe(outsider, live.uuid, Watcher().subscriber)
    await engine.stop(outsider, live.uuid)
    await watcher.until_end()
    assert watcher.status == Run.COMPLETED


async def test_it_interrupts_a_run_nobody_came_back_to_after_the_grace_period(
    owner, fake_model, upstream, settings
):
    settings.RUN_GRACE_SECONDS = 0.3
    upstream.behave(chunks=["partial ", "text ", "never"], stall_after=2)
    watcher = Watcher()
    live = await start(owner, fake_model, watcher)
    await watcher.until(deltas=2)
    engine.detach(live.uuid, watcher.subscriber)
    assert not await upstream.wait_for_disconnect(0.15)  # still in its grace period
    assert await upstream.wait_for_disconnect(1.0)
    await asyncio.wait([live.task], timeout=2)
    await live.finished
    run = await stored(live)
    assert run.status == Run.INTERRUPTED
    assert run.output_text == "partial text "
    assert not watcher.ended.is_set()  # it had gone: nothing more was sent to it


async def test_a_subscriber_back_within_the_grace_period_keeps_the_run(
    owner, fake_model, upstream, settings
):
    settings.RUN_GRACE_SECONDS = 0.3
    upstream.behave(chunks=["one ", "two ", "three"], interval=0.25)
    gone, back = Watcher(), Watcher()
    live = await start(owner, fake_model, gone)
    await gone.until(deltas=1)
    engine.detach(live.uuid, gone.subscriber)
    await asyncio.sleep(0.1)
    await engine.subscribe(owner, live.uuid, back.subscriber)
    await back.until_end()
    assert back.status == Run.COMPLETED and back.text == "one two three"


async def test_it_keeps_the_notices_of_a_run_that_is_not_streamed(owner, fake_model, upstream):
    fake_model.accepted_fields = ["model", "prompt", "stream", "temperature"]
    await database_sync_to_async(fake_model.save)()
    upstream.behave(text="all at once")
    watcher = Watcher()
    live = await start(owner, fake_model, watcher, stream=False, echo=True)
    await watcher.until_end()
    notices = [e for _, e in watcher.events if isinstance(e, Notice)]
    assert [(n.field, n.message) for n in notices] == [
        ("echo", "echo-1 does not accept echo; it was not sent")
    ]
    run = await stored(live)
    assert run.notices == [{"field": "echo", "message": notices[0].message}]
    assert run.output_text == "all at once"
    assert "stream" not in upstream.last.json and upstream.last.json == run.request


async def test_it_checkpoints_what_arrived_while_the_run_goes_on(
    owner, fake_model, upstream, settings
):
    settings.RUN_CHECKPOINT_SECONDS = 0.1
    upstream.behave(chunks=["saved ", "while ", "streaming ", "never"], stall_after=3)
    watcher = Watcher()
    live = await start(owner, fake_model, watcher)
    await watcher.until(deltas=3)
    await asyncio.sleep(0.4)
    run = await stored(live)
    assert run.status == Run.RUNNING
    assert run.output_text == "saved while streaming "
    assert run.response["choices"][0]["text"] == "saved while streaming "
    assert run.seq == len(watcher.events)
    assert run.lease_until > timezone.now()
    await engine.stop(owner, live.uuid)
    await watcher.until_end()


async def test_it_replays_a_finished_run_from_the_database(owner, fake_model, upstream):
    upstream.behave(chunks=["done ", "and ", "stored"])
    first, later = Watcher(), Watcher()
    live = await start(owner, fake_model, first)
    await first.until_end()
    assert engine.live_run(live.uuid) is None
    await engine.subscribe(owner, live.uuid, later.subscriber)
    assert later.text == "done and stored"
    assert later.status == Run.COMPLETED


async def test_a_subscriber_that_breaks_costs_nothing_but_itself(owner, fake_model, upstream):
    upstream.behave(chunks=["a", "b", "c"], interval=0.02)

    async def broken(seq, event):
        raise ConnectionError("socket closed")

    good = Watcher()
    live = await start(owner, fake_model, good)
    await engine.subscribe(owner, live.uuid, Subscriber(broken))
    await good.until_end()
    assert good.status == Run.COMPLETED and good.text == "abc"


@database_sync_to_async
def make_run(owner, fake_model, lease_until, text="left behind"):
    return Run.objects.create(
        owner=owner, endpoint="completions", model=fake_model, model_name="Echo",
        request={"model": "echo-1", "prompt": "x"}, status=Run.RUNNING, seq=3,
        response={"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "echo-1",
                  "choices": [{"index": 0, "text": text, "logprobs": None,
                               "finish_reason": None}]},
        output_text=text, lease_until=lease_until,
    )


async def test_a_run_whose_lease_ran_out_is_interrupted_with_its_checkpoint(owner, fake_model):
    orphan = await make_run(owner, fake_model, timezone.now() - timedelta(seconds=1))
    vouched = await make_run(owner, fake_model, timezone.now() + timedelta(seconds=30))
    assert await database_sync_to_async(keeper.renew_and_sweep)() == 1
    orphan = await database_sync_to_async(Run.objects.get)(pk=orphan.pk)
    assert orphan.status == Run.INTERRUPTED and orphan.output_text == "left behind"
    assert (await database_sync_to_async(Run.objects.get)(pk=vouched.pk)).status == Run.RUNNING


async def test_the_keeper_renews_the_leases_of_its_own_runs(owner, fake_model, upstream):
    upstream.behave(chunks=["waiting"], stall_after=1)
    watcher = Watcher()
    live = await start(owner, fake_model, watcher)
    await watcher.until(deltas=1)
    await live.recorded
    past = timezone.now() - timedelta(seconds=1)
    await database_sync_to_async(Run.objects.filter(uuid=live.uuid).update)(lease_until=past)
    assert await database_sync_to_async(keeper.renew_and_sweep)() == 0
    run = await stored(live)
    assert run.status == Run.RUNNING and run.lease_until > timezone.now()
    await engine.stop(owner, live.uuid)
    await watcher.until_end()


async def test_a_running_run_whose_lease_ran_out_is_shown_as_interrupted(owner, fake_model):
    run = await make_run(owner, fake_model, timezone.now() - timedelta(seconds=1), "so far")
    watcher = Watcher()
    await engine.subscribe(owner, run.uuid, watcher.subscriber)
    assert watcher.text == "so far" and watcher.status == Run.INTERRUPTED
    assert (await database_sync_to_async(Run.objects.get)(pk=run.pk)).status == Run.INTERRUPTED


@pytest.mark.skipif(hub.shared(), reason="with Redis, another process may still drive it")
async def test_with_one_process_a_running_run_it_does_not_drive_is_over(owner, fake_model):
    # With the in-memory layer this process is the only one: a "running" run
    # it does not drive was left by a process that died, lease or not.
    run = await make_run(owner, fake_model, timezone.now() + timedelta(seconds=30), "so far")
    watcher = Watcher()
    await engine.subscribe(owner, run.uuid, watcher.subscriber)
    assert watcher.text == "so far" and watcher.status == Run.INTERRUPTED


async def test_a_run_stopped_before_it_began_is_kept_as_cancelled(owner, fake_model, upstream):
    watcher = Watcher()
    live = await start(owner, fake_model, watcher)
    await engine.stop(owner, live.uuid)  # before its task ran at all
    await watcher.until_end()
    assert watcher.status == Run.CANCELLED
    assert (await stored(live)).status == Run.CANCELLED
    assert upstream.requests == []


async def test_closing_a_loop_keeps_its_runs_as_interrupted_and_ends_its_hub(
    owner, fake_model, upstream
):
    # What a loop's end goes through (after every async test): runs still
    # streaming are kept as interrupted with what arrived, and the hub's
    # listener (with Redis) ends by itself, so nothing is left to cancel.
    upstream.behave(chunks=["x"] * 200, interval=0.02)
    watcher = Watcher()
    live = await start(owner, fake_model, watcher)
    await watcher.until(deltas=3)
    listener = None
    if hub.shared():
        async with asyncio.timeout(10):  # the run has joined its control group
            while live.uuid not in hub.current().joined:
                await asyncio.sleep(0.01)
        listener = hub.current().listener
        assert listener is not None and not listener.done()

    await engine.close()

    assert watcher.status == Run.INTERRUPTED
    run = await stored(live)
    assert run.status == Run.INTERRUPTED and run.output_text.startswith("xxx")
    assert engine.live_run(live.uuid) is None
    if listener is not None:
        assert listener.done() and not listener.cancelled()
        assert hub.current().listener is None


@pytest.mark.skipif(not hub.shared(), reason="one process: nothing joins a group")
async def test_many_runs_at_once_can_each_be_stopped_from_another_process(
    owner, fake_model, upstream
):
    # 150 runs begin together, more than redis-py's pool of 100 connections.
    # Each must join its control group, so that a stop sent there (as another
    # process sends it) reaches it.
    from channels.layers import channel_layers

    upstream.behave(chunks=["x"] * 20, interval=1.0)  # ~20 s unless stopped
    watchers = [Watcher() for _ in range(150)]
    runs = await asyncio.gather(*(start(owner, fake_model, w) for w in watchers))
    elsewhere = channel_layers.make_backend(hub.LAYER)  # a layer of its own, as in another process
    try:
        async with asyncio.timeout(15):
            while any(not w.ended.is_set() for w in watchers):
                for live, watcher in zip(runs, watchers, strict=True):
                    if not watcher.ended.is_set():
                        await elsewhere.group_send(
                            hub.control_group(live.uuid),
                            {"type": "runs.stop", "run": live.uuid, "user": owner.pk,
                             "status": Run.CANCELLED},
                        )
                await asyncio.sleep(0.2)
    except TimeoutError:
        unstopped = sum(not w.ended.is_set() for w in watchers)
        pytest.fail(f"{unstopped} of 150 runs could not be stopped through their group")
    assert [w.status for w in watchers] == [Run.CANCELLED] * 150
    async with asyncio.timeout(5):  # and each leaves its group again
        while hub.current().joined:
            await asyncio.sleep(0.01)


@pytest.fixture
async def elsewhere():
    """Another process's hub: a channel layer of its own on the same Redis."""
    from channels.layers import channel_layers

    other = hub.Hub(channel_layers.make_backend(hub.LAYER))
    yield other
    await other.close()


async def until_joined(live):
    """Until the run's process has joined its control group (hub.own() is
    not awaited: a subscribe sent before would reach nobody)."""
    async with asyncio.timeout(5):
        while live.uuid not in hub.current().joined:
            await asyncio.sleep(0.01)


async def watched_elsewhere(owner, model, elsewhere, deltas, **body):
    """A run started here (its own page watching) and watched from the other
    process's hub once it has streamed `deltas` deltas: (live, watcher)."""
    live = await start(owner, model, Watcher(), **body)
    await until_joined(live)
    watcher = Watcher()
    assert await elsewhere.watch(live.uuid, owner, watcher.subscriber, 0)
    await watcher.until(deltas=deltas)
    return live, watcher


@contextlib.contextmanager
def redis_refusing_writes():
    """Redis refuses every write while inside (full, as `maxmemory` makes it:
    OOM errors), and takes them again after."""
    import redis
    from django.conf import settings

    server = redis.Redis.from_url(settings.REDIS_URL)
    if server.config_get("maxmemory-policy")["maxmemory-policy"] != "noeviction":
        server.close()
        pytest.skip("this Redis would evict keys when full, not refuse writes")
    limit = server.config_get("maxmemory")["maxmemory"]
    try:
        server.config_set("maxmemory", 1)
        yield
    finally:
        server.config_set("maxmemory", limit)
        server.close()


def retried(caplog):
    return [r for r in caplog.records if r.name == "apps.runs.hub" and "will retry" in r.message]


@pytest.mark.skipif(not hub.shared(), reason="one process: nobody watches from elsewhere")
async def test_a_watcher_elsewhere_gets_every_event_though_redis_refused_some(
    owner, fake_model, upstream, elsewhere, caplog
):
    # Redis refusing writes for a moment while the run streams: the events
    # it refused reach the page in another process once Redis takes writes
    # again, in order, none lost; the run's end too.
    chunks = [f"{i}," for i in range(30)]
    upstream.behave(chunks=chunks, interval=0.05)
    live, watcher = await watched_elsewhere(owner, fake_model, elsewhere, 3, max_tokens=100)
    with redis_refusing_writes():
        await asyncio.sleep(0.4)  # ~8 chunks
    await watcher.until_end(timeout=20)

    assert retried(caplog), "Redis refused nothing: the test did not test"
    assert watcher.text == "".join(chunks)
    assert watcher.seqs == list(range(1, len(watcher.events) + 1))
    assert watcher.status == Run.COMPLETED
    assert hub.current().links == {}  # it has had the end: nothing kept for it


@pytest.mark.skipif(not hub.shared(), reason="one process: nobody watches from elsewhere")
async def test_a_watcher_elsewhere_gets_the_end_redis_refused_when_nothing_follows(
    owner, fake_model, upstream, elsewhere, caplog
):
    # The run ends while Redis refuses writes: no later event would carry its
    # end, so the owner tries again by itself until Redis takes it.
    upstream.behave(chunks=["a", "b", "c", "d"], interval=0.1)
    live, watcher = await watched_elsewhere(owner, fake_model, elsewhere, 1)
    with redis_refusing_writes():
        await asyncio.wait_for(asyncio.shield(live.over), 5)  # it ended meanwhile
        assert not watcher.ended.is_set()
    await watcher.until_end(timeout=20)

    assert retried(caplog)
    assert watcher.text == "abcd" and watcher.status == Run.COMPLETED


@pytest.mark.skipif(not hub.shared(), reason="one process: nobody watches from elsewhere")
async def test_a_watcher_that_misses_events_asks_again_and_gets_them(
    owner, fake_model, upstream, elsewhere
):
    # An event that never arrived (Redis took it, then lost it: a restart
    # without persistence) leaves a gap: the mirror asks the owner again
    # from what it has, and its page gets the rest in order, none twice.
    chunks = [f"{i}," for i in range(20)]
    upstream.behave(chunks=chunks, interval=0.05)
    live, watcher = await watched_elsewhere(owner, fake_model, elsewhere, 3, max_tokens=100)
    mirror = elsewhere.mirrors[live.uuid]
    take, lost = mirror.take, []

    async def losing_one(first, events):  # the way from Redis loses one message
        if not lost and events:
            lost.append(first)
            return
        await take(first, events)

    mirror.take = losing_one
    await watcher.until_end(timeout=10)

    assert lost and mirror._asked_after is not None  # it noticed, and asked again
    assert watcher.text == "".join(chunks)
    assert watcher.seqs == list(range(1, len(watcher.events) + 1))


@pytest.mark.skipif(not hub.shared(), reason="one process: nobody watches from elsewhere")
async def test_a_watcher_the_owner_dropped_asks_again_and_gets_the_rest(
    owner, fake_model, upstream, elsewhere, monkeypatch
):
    # The owner drops a watcher (its channel was full, or Redis was away
    # longer than the retries): the watcher, hearing nothing, asks again and
    # its page gets what it missed and the end, in order, none twice.
    monkeypatch.setattr(hub, "quiet_seconds", lambda: 0.2)
    chunks = [f"{i}," for i in range(30)]
    upstream.behave(chunks=chunks, interval=0.05)
    live, watcher = await watched_elsewhere(owner, fake_model, elsewhere, 3, max_tokens=100)
    owner_hub = hub.current()
    owner_hub._forget(live, elsewhere.channel)
    assert (live.uuid, elsewhere.channel) not in owner_hub.links
    await watcher.until_end(timeout=10)

    assert watcher.text == "".join(chunks)
    assert watcher.seqs == list(range(1, len(watcher.events) + 1))
    assert watcher.status == Run.COMPLETED


@pytest.mark.skipif(not hub.shared(), reason="one process: nobody watches from elsewhere")
async def test_a_watcher_whose_owner_forgot_the_run_gets_it_from_the_database(
    owner, fake_model, upstream, elsewhere, monkeypatch
):
    # The run ends while its watcher is dropped: the owner no longer has it
    # to answer for, so the watcher reads it from the database. It cannot
    # know which events it missed: it gets the stored run whole, from its
    # Meta (a page shows that instead of what it had), then its end.
    monkeypatch.setattr(hub, "quiet_seconds", lambda: 1.0)  # longer than the rest of the run
    read = []

    async def stored_end(run_uuid, silent_for):
        read.append(run_uuid)
        return await engine_stored_end(run_uuid, silent_for)

    engine_stored_end = engine.stored_end
    monkeypatch.setattr(engine, "stored_end", stored_end)
    upstream.behave(chunks=["a", "b", "c", "d"], interval=0.1)
    live, watcher = await watched_elsewhere(owner, fake_model, elsewhere, 1)
    hub.current()._forget(live, elsewhere.channel)
    await asyncio.wait_for(asyncio.shield(live.task), 5)  # ended, and stored
    assert engine.live_run(live.uuid) is None
    await watcher.until_end(timeout=10)

    assert read == [live.uuid]
    assert watcher.status == Run.COMPLETED
    assert watcher.seqs == list(range(1, len(watcher.events) + 1))
    last_meta = max(i for i, (_, e) in enumerate(watcher.events) if isinstance(e, Meta))
    replayed = [e for _, e in watcher.events[last_meta:]]
    assert "".join(e.text for e in replayed if isinstance(e, Delta)) == "abcd"
    assert live.uuid not in elsewhere.mirrors


@pytest.mark.skipif(not hub.shared(), reason="one process: nothing joins a group")
async def test_a_run_can_be_stopped_from_elsewhere_after_redis_forgot_its_group(
    owner, fake_model, upstream, elsewhere, monkeypatch
):
    # Redis restarted without its data (FLUSHDB: this Redis keeps nothing on
    # disk): the run's control group is gone. The owner joins it again, so a
    # stop sent there from another process still reaches the run.
    import redis
    from django.conf import settings

    monkeypatch.setattr(hub, "REJOIN_SECONDS", 0.3)
    upstream.behave(chunks=["x"] * 40, interval=0.1)  # ~4 s unless stopped
    watcher = Watcher()
    live = await start(owner, fake_model, watcher, max_tokens=100)
    async with asyncio.timeout(5):
        while live.uuid not in hub.current().joined:
            await asyncio.sleep(0.01)
    server = redis.Redis.from_url(settings.REDIS_URL)
    try:
        server.flushdb()
    finally:
        server.close()
    async with asyncio.timeout(3):
        while not watcher.ended.is_set():
            await elsewhere.layer.group_send(
                hub.control_group(live.uuid),
                {"type": "runs.stop", "run": live.uuid, "user": owner.pk,
                 "status": Run.CANCELLED})
            await asyncio.sleep(0.1)
    assert watcher.status == Run.CANCELLED


@pytest.fixture
def writes(monkeypatch):
    """The engine's writes, in order: (function name, args), as they go to the
    database thread (the real writes still happen)."""
    seen = []
    write_batch = engine._write_batch

    def recorded(items):
        seen.extend((fn.__name__, args) for fn, args in items)
        return write_batch(items)

    monkeypatch.setattr(engine, "_write_batch", recorded)
    return seen


def writes_of(writes, live):
    """[(name, the final status or None)] of one run's writes."""
    return [(name, args[2][0] if name == "_record" and len(args) > 2 else
             args[1] if name == "_final" else None)
            for name, args in writes if live.run in args]


async def test_a_run_that_ends_before_its_first_save_is_written_is_stored_by_one_write(
    owner, fake_model, upstream, writes
):
    # A quick call while the writer is busy: its first save is still waiting
    # when the answer is in, so the Run goes in whole, once, with its
    # conversation's reply as the final save adds it.
    upstream.behave(text="all at once")
    busy = engine.writer().add(time.sleep, 0.5)  # in flight: later writes wait
    message = {"mode": "chat", "model": str(fake_model.uuid), "conversation": None,
               "body": {"messages": [{"role": "user", "content": "Hi"}], "stream": False}}
    spec = await database_sync_to_async(specs.from_page)(owner, message)
    watcher = Watcher()
    live = await engine.start(spec, watcher.subscriber)
    await watcher.until_end()
    await busy

    assert watcher.status == Run.COMPLETED
    run = await stored(live)
    assert run.status == Run.COMPLETED and run.output_text == "all at once"
    assert run.seq == len(watcher.events)
    thread = await database_sync_to_async(
        lambda: Run.objects.get(uuid=live.uuid).conversation.thread())()
    assert [(m["role"], m["content"]) for m in thread] == [
        ("user", "Hi"), ("assistant", "all at once")
    ]
    assert writes_of(writes, live) == [("_record", Run.COMPLETED)]


async def test_a_caller_has_the_outcome_before_the_save_and_a_clean_stop_stores_it(
    owner, fake_model, upstream
):
    # The gateway's plain calls: answered once the outcome is known (its
    # finish hooks run, e.g. the key's token count), the Run's write behind.
    upstream.behave(text="answered first")
    gate = threading.Event()
    busy = engine.writer().add(gate.wait, 10)  # the Run's write waits behind it
    spec = await database_sync_to_async(specs.from_page)(
        owner, page_message(fake_model, stream=False))
    counted = []

    async def count(assembly):
        counted.append(assembly.output_text())

    spec.on_finish.append(count)
    live = await engine.start_until_over(spec)

    assert live.assembly.output_text() == "answered first"
    assert counted == ["answered first"]
    assert not await database_sync_to_async(Run.objects.filter(uuid=live.uuid).exists)()
    gate.set()
    await engine.close()  # a clean stop: what is still to be written is written
    await busy
    run = await stored(live)
    assert run.status == Run.COMPLETED and run.output_text == "answered first"


async def test_a_caller_waits_for_the_save_when_the_writes_fall_behind(
    owner, fake_model, upstream, monkeypatch
):
    # Answered ahead of its save only while few writes wait: past
    # WRITES_AHEAD a caller is answered once its Run is stored, so calls
    # that come faster than the database writes cannot pile up unsaved.
    monkeypatch.setattr(engine, "WRITES_AHEAD", 3)
    upstream.behave(text="stored first")
    gate = threading.Event()
    busy = engine.writer().add(gate.wait, 10)  # the database is busy
    waiting = [engine.writer().add(time.sleep, 0) for _ in range(3)]  # writes behind it
    spec = await database_sync_to_async(specs.from_page)(
        owner, page_message(fake_model, stream=False))
    caller = asyncio.ensure_future(engine.start_until_over(spec))
    await asyncio.sleep(0.5)
    assert not caller.done()  # its outcome is known, its save is not done
    gate.set()
    live = await asyncio.wait_for(caller, 5)
    run = await database_sync_to_async(Run.objects.filter(uuid=live.uuid).first)()
    assert run is not None and run.output_text == "stored first"  # stored when answered
    await asyncio.gather(busy, *waiting)


async def test_a_watcher_that_comes_and_goes_does_not_end_a_call_awaited_for_its_outcome(
    owner, fake_model, upstream
):
    # A gateway run ends when its client leaves (on_detach END); someone
    # else watching it for a while (a page that subscribed) must not end it.
    upstream.behave(text="still answered", latency=0.5)
    spec = await database_sync_to_async(specs.from_page)(
        owner, page_message(fake_model, stream=False))
    spec.on_detach = engine.END
    caller = asyncio.ensure_future(engine.start_until_over(spec))
    async with asyncio.timeout(5):
        while not [r for r in engine.LIVE.values() if r.spec is spec]:
            await asyncio.sleep(0.01)
    (live,) = [r for r in engine.LIVE.values() if r.spec is spec]
    watcher = Watcher()
    await live.attach(watcher.subscriber)
    live.detach(watcher.subscriber)
    assert (await caller) is live
    assert live.assembly.output_text() == "still answered"
    await asyncio.wait_for(asyncio.shield(live.finished), 5)
    assert (await stored(live)).status == Run.COMPLETED


async def test_a_caller_that_goes_away_before_the_outcome_interrupts_the_run(
    owner, fake_model, upstream
):
    upstream.behave(text="never seen", latency=5)
    spec = await database_sync_to_async(specs.from_page)(
        owner, page_message(fake_model, stream=False))
    spec.on_detach = engine.END  # as a gateway call's: its client is its only watcher
    caller = asyncio.ensure_future(engine.start_until_over(spec))
    async with asyncio.timeout(5):
        while not upstream.in_flight:  # the upstream has the request
            await asyncio.sleep(0.01)
    (live,) = [r for r in engine.LIVE.values() if r.spec is spec]
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert await upstream.wait_for_disconnect(2)  # its request was closed
    await asyncio.wait_for(asyncio.shield(live.finished), 5)
    run = await stored(live)
    assert run.status == Run.INTERRUPTED and run.output_text == ""


async def held_start(owner, fake_model, watcher, hold, **body):
    """A page run whose first save is held `hold` seconds (as a gateway plain
    call's is) for its end."""
    spec = await database_sync_to_async(specs.from_page)(owner, page_message(fake_model, **body))
    spec.hold_first_save = hold
    return await engine.start(spec, watcher.subscriber)


async def test_a_held_first_save_becomes_the_one_write_of_a_run_that_ends_in_time(
    owner, fake_model, upstream, writes
):
    upstream.behave(text="in time", latency=0.2)
    watcher = Watcher()
    live = await held_start(owner, fake_model, watcher, 5, stream=False)
    await watcher.until_end()
    assert (await stored(live)).output_text == "in time"
    assert writes_of(writes, live) == [("_record", Run.COMPLETED)]


async def test_a_held_first_save_goes_out_when_its_time_is_up(
    owner, fake_model, upstream, writes
):
    # A slow call is stored as running once the hold is over, then finished.
    upstream.behave(text="slow", latency=1.0)
    watcher = Watcher()
    live = await held_start(owner, fake_model, watcher, 0.2, stream=False)
    assert (await until_stored(live, 0.9)).status == Run.RUNNING
    await watcher.until_end()
    assert (await stored(live)).status == Run.COMPLETED
    assert writes_of(writes, live) == [("_record", None), ("_final", Run.COMPLETED)]


async def test_a_run_stopped_while_its_first_save_is_held_is_kept_as_cancelled(
    owner, fake_model, upstream, writes
):
    upstream.behave(text="never", latency=5)
    watcher = Watcher()
    live = await held_start(owner, fake_model, watcher, 5, stream=False)
    async with asyncio.timeout(5):
        while not upstream.requests:
            await asyncio.sleep(0.02)
    await engine.stop(owner, live.uuid)
    await watcher.until_end()
    assert watcher.status == Run.CANCELLED
    assert (await stored(live)).status == Run.CANCELLED
    assert writes_of(writes, live) == [("_record", Run.CANCELLED)]


async def test_an_outcome_the_database_refuses_keeps_the_run_as_it_began(
    owner, fake_model, upstream, writes, monkeypatch
):
    # One write for both saves must not lose the run when the final part
    # fails: it is stored as running (as two writes would have left it),
    # the keeper's to interrupt, and the watcher still hears the end.
    def refused(*args):
        raise ValueError("the database refused the outcome")

    monkeypatch.setattr(engine, "_final", refused)
    upstream.behave(text="refused")
    watcher = Watcher()
    live = await held_start(owner, fake_model, watcher, 5, stream=False)
    await watcher.until_end()
    run = await stored(live)
    assert run.status == Run.RUNNING and run.output_text == ""
    assert run.request == live.run.request


async def test_a_run_alone_whose_outcome_the_database_refuses_is_kept_as_it_began(
    owner, fake_model, upstream
):
    # A run without a conversation (the gateway's) is one INSERT with no
    # transaction around it. The database itself refusing the outcome (a
    # token count no integer column holds) still leaves the run stored as
    # it began: on PostgreSQL, inside a transaction without a savepoint, the
    # second INSERT would be refused too.
    answer = {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": "echo-1",
              "choices": [{"index": 0, "text": "too many", "logprobs": None,
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 10**20, "completion_tokens": 1,
                        "total_tokens": 10**20 + 1}}
    upstream.behave(body=answer)
    spec = await database_sync_to_async(specs.from_page)(
        owner, page_message(fake_model, stream=False))
    spec.conversation = None
    spec.hold_first_save = 5  # one write for both saves, as a gateway plain call's
    watcher = Watcher()
    live = await engine.start(spec, watcher.subscriber)
    await watcher.until_end()
    run = await stored(live)
    assert run.status == Run.RUNNING and run.output_text == ""
    assert run.conversation is None and run.request == live.run.request


async def test_a_run_whose_first_save_went_out_gets_its_final_save_after_it(
    owner, fake_model, upstream, writes
):
    upstream.behave(chunks=["saved ", "twice"], interval=0.05)
    watcher = Watcher()
    live = await start(owner, fake_model, watcher)
    await watcher.until_end()
    run = await stored(live)
    assert run.status == Run.COMPLETED and run.output_text == "saved twice"
    assert writes_of(writes, live) == [("_record", None), ("_final", Run.COMPLETED)]


async def test_a_stream_is_stored_as_running_once_the_upstream_has_accepted_it(
    owner, fake_model, upstream, settings
):
    # Its first save waits for the upstream's 200 (not for a checkpoint
    # interval, here longer than the test): from then on, another tab or
    # process finds the run, though no token has come.
    settings.RUN_CHECKPOINT_SECONDS = 60
    upstream.behave(stall_after=0)
    watcher = Watcher()
    live = await start(owner, fake_model, watcher)
    run = await until_stored(live, 5)
    assert run.status == Run.RUNNING and run.output_text == ""
    assert watcher.text == ""
    await engine.stop(owner, live.uuid)
    await watcher.until_end()
    assert (await stored(live)).status == Run.CANCELLED
