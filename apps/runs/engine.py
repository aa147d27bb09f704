"""Start, drive, checkpoint, watch, stop and finish runs.

One run, start to end:

1. `start(spec, subscriber)` builds the Run (unsaved) and its wire body (the
   adapter's `prepare()`, once: what is recorded is what is sent), registers a
   LiveRun in this process and starts its task.
2. The task (`LiveRun._drive`) sends the upstream request and hands every
   adapter event to the Assembly and to each subscriber in order, numbered
   from 1; the first event is never held back. The Run's first save goes
   out at once for a page's plain run; for a stream once the upstream has
   accepted the request (its 200: the save's thread work no longer slows
   the request's way out); for a gateway plain call with its answer, as
   one write. Either waits one checkpoint interval at most.
3. What arrived is checkpointed into the Run at most every
   RUN_CHECKPOINT_SECONDS and at the end, so a killed process loses at most
   that last interval (keeper.py turns its runs into `interrupted`), or the
   whole record of a run whose first save was still held back (a stream
   not yet answered, a gateway plain call younger than that interval, even
   one already answered: its write goes out behind the answer).
   A clean stop loses nothing (close(), called at daphne's shutdown).
4. Subscribers come and go: the page that started the run, the same page
   after a reload, another tab, another process (hub.py). Each first gets
   every event it has not seen, then the live ones, exactly once, in order.
5. `stop()` from any subscriber, in any process, cancels the task: the
   upstream request is closed and the run is kept as `cancelled`. A
   playground run whose last subscriber left keeps going for
   RUN_GRACE_SECONDS (a reload), then is kept as `interrupted`; a gateway
   run ends as soon as its client leaves.
6. The final save is shielded from cancellation; `Ended` (the last event) is
   reported only once the Run is stored. `over` resolves just before that
   save, once the outcome is known: a gateway plain call is answered then
   (start_until_over), its Run's write going on behind the answer.
"""

import asyncio
import logging
import time
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.history.assemble import Assembly, events_from_response, prompt_text
from apps.history.models import Run
from apps.inference import Error, Meta, Notice, UpstreamError, complete, prepare, stream

from . import hub
from .broadcast import Broadcast, Subscriber  # noqa: F401 (part of the API)
from .protocol import Ended

log = logging.getLogger(__name__)

# What happens when the last subscriber of a run goes away.
GRACE = "grace"  # keep going for RUN_GRACE_SECONDS (a reload), then interrupt
END = "end"  # interrupt at once (a gateway client hung up, as OpenAI does)

ID_PREFIX = {"completions": "cmpl", "chat": "chatcmpl"}

# This process's runs, by uuid string.
LIVE: "dict[str, LiveRun]" = {}


# The engine's database threads. Not thread-sensitive: each call is complete
# in itself (its own transaction), so runs' writes don't queue behind one
# another on a single thread. One executor for the process, not the event
# loop's default one: its threads outlive any loop, so a connection pool is
# never left with connections of threads that exited.
DB_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="runs-db")


def db(fn, *args):
    """Await fn(*args) in one of the engine's database threads."""
    return database_sync_to_async(fn, thread_sensitive=False, executor=DB_THREADS)(*args)


class NotFound(Exception):
    """No such run, or not the user's (the same thing to them)."""


@dataclass
class Spec:
    """A run, validated and resolved (specs.py builds these)."""

    owner: object  # a User
    endpoint: str  # "completions" or "chat"
    model: object  # an apps.providers Model
    target: object  # its apps.inference Target
    body: dict  # the catalogue's clean body
    streams: bool  # ask the upstream for a stream (else complete() replayed as events)
    source: str = "playground"
    conversation: object = None  # a Conversation (unsaved if new)
    thread: list | None = None  # chat: the messages as sent, stored on the conversation
    key_prefix: str = ""
    # Gateway: report the model under the name the client used, and our own
    # completion id (it names the Run, so a client's log leads to its record).
    public_model: str | None = None
    on_detach: str = GRACE
    on_record: list = field(default_factory=list)  # run in the Run's first transaction
    # Run (in the database thread) just before the Run's first save, each on
    # its own: what needs no transaction with it (a gateway key's last use,
    # noted before a reader can see the Run).
    before_record: list = field(default_factory=list)
    # Awaited with the Assembly as the run ends, before its final save (e.g.
    # a gateway key's token count: counted before the client has its
    # answer); a failing one is logged, never fatal to the run.
    on_finish: list = field(default_factory=list)
    template: dict | None = None  # {"body", "variables"} of a templated run (stored on the Run)
    # How long the Run's first save may wait for the run to end, so that a
    # quick run is stored by one write instead of two (the gateway's plain
    # calls: nothing arrives before the whole answer). 0: at once.
    hold_first_save: float = 0.0


class LiveRun(Broadcast):
    """A run driven by this process."""

    def __init__(self, spec, run, prepared):
        super().__init__()
        self.spec = spec
        self.run = run
        self.uuid = str(run.uuid)
        self.prepared = prepared
        self.assembly = Assembly(spec.endpoint)
        self.watchers = set()  # other processes' hub channels watching this run
        self.task = None
        self.stop_status = None
        self.status = Run.RUNNING
        self.recorded = None  # the Run's first save
        self.finished = None  # the final save
        self._checkpointing = None  # the checkpoint write in flight
        # Its status, once the run's outcome is known and its on_finish hooks
        # have run: the final save may still be under way (Ended says when
        # it is stored).
        self.over = asyncio.get_running_loop().create_future()
        self._checkpoint_seq = 0
        # The first checkpoint falls due one interval after the start, as
        # each later one does after the last: a crash still loses at most one
        # interval, and the first token goes out without a database write
        # beside it (that write cost a gateway stream's first chunk ~0.5 ms:
        # bench/README.md, session 7). A run shorter than the interval is
        # not checkpointed at all: its final save stores everything.
        self._checkpoint_at = asyncio.get_running_loop().time()
        self._checkpoint_timer = None
        self._grace = None

    # -- subscribers ------------------------------------------------------

    async def attach(self, subscriber, after=0):
        self._cancel_grace()
        await super().attach(subscriber, after)

    def detach(self, subscriber):
        super().detach(subscriber)
        self._maybe_abandoned()

    def watch_from(self, channel):
        self._cancel_grace()
        self.watchers.add(channel)

    def unwatch_from(self, channel):
        self.watchers.discard(channel)
        self._maybe_abandoned()

    def _maybe_abandoned(self):
        if self.subscribers or self.watchers or not self._stoppable():
            return
        if self.spec.on_detach == END:
            self.stop(Run.INTERRUPTED)
        elif self._grace is None:
            loop = asyncio.get_running_loop()
            self._grace = loop.call_later(settings.RUN_GRACE_SECONDS, self._grace_over)

    def _grace_over(self):
        self._grace = None
        if not (self.subscribers or self.watchers):
            self.stop(Run.INTERRUPTED)

    def _cancel_grace(self):
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    # -- stopping -----------------------------------------------------------

    def stop(self, status=Run.CANCELLED):
        """Cancel the run (cancelled: Stop; interrupted: nobody watches)."""
        if not self._stoppable():
            return
        self.stop_status = self.stop_status or status
        # A task cancelled before its first step never enters _drive (so
        # nothing would store the run): _drive sees stop_status instead.
        if self.recorded is not None:
            self.task.cancel()

    def _stoppable(self):
        # Not once its end is being stored: its outcome is decided, and a
        # watcher that leaves as Ended reaches it (a gateway stream's last
        # frame is sent from within the final save's task) must not cancel
        # the task that awaits that save.
        return self.task is not None and not self.task.done() and self.finished is None

    # -- driving ------------------------------------------------------------

    async def _drive(self):
        # A stream's first save waits until the upstream has accepted the
        # request (on_answer below), so that its database work in a thread
        # does not slow the request's way out (measured: ~1-2 ms of a
        # stream's first token); one checkpoint interval at most. A spec
        # may hold it for the run's end (gateway plain calls).
        hold = self.spec.hold_first_save
        if self.spec.streams:
            hold = hold or settings.RUN_CHECKPOINT_SECONDS
        self.recorded = writer().hold(hold, _record, self.spec, self.run)
        status = Run.COMPLETED
        try:
            if self.stop_status is not None:
                status = self.stop_status  # stopped before it began: nothing was sent
                return
            async with aclosing(self._upstream()) as events:
                async for event in events:
                    await self._publish(event)
            status = Run.FAILED if self.assembly.error else Run.COMPLETED
        except asyncio.CancelledError:
            status = Run.FAILED if self.assembly.error else (self.stop_status or Run.INTERRUPTED)
            raise
        except Exception as exc:  # a bug must not leave a run "running"
            log.exception("run %s failed", self.uuid)
            status = Run.FAILED
            await self._publish(Error(f"internal error: {type(exc).__name__}", "internal"))
        finally:
            self.assembly.end()
            # A task of its own, awaited shielded: the save completes even
            # though this task is being cancelled.
            self.finished = asyncio.ensure_future(self._finish(status))
            await asyncio.shield(self.finished)

    async def _upstream(self):
        spec = self.spec
        if spec.streams:
            async with aclosing(
                stream(spec.target, spec.endpoint, spec.body, prepared=self.prepared,
                       on_answer=self._answered)
            ) as events:
                async for event in events:
                    yield event
            return
        # Not streamed: the upstream gets the request as made (best_of > 1
        # cannot be streamed at all) and the answer is replayed as events,
        # notices included, so both kinds are shown and stored the same way.
        try:
            response = await complete(
                spec.target, spec.endpoint, spec.body, prepared=self.prepared
            )
        except UpstreamError as error:
            yield Meta()
            for notice in self.prepared[1]:
                yield notice
            yield error.event()
            return
        replayed = list(events_from_response(spec.endpoint, response))
        yield replayed[0]  # the Meta
        for notice in response.get("notices", ()):
            yield Notice(notice["message"], notice["field"])
        for event in replayed[1:]:
            yield event

    def _answered(self):
        if not self.spec.hold_first_save:
            writer().release(self.recorded)

    async def _publish(self, event):
        if isinstance(event, Meta) and self.spec.public_model is not None:
            event = Meta(
                id=f"{ID_PREFIX[self.spec.endpoint]}-{self.run.uuid.hex}",
                model=self.spec.public_model,
                created=event.created or int(time.time()),
                system_fingerprint=event.system_fingerprint,
            )
        self.assembly.add(event)
        await self.publish(event)
        if self.watchers:
            hub.send_events(self)
        self._schedule_checkpoint()

    # -- checkpoints --------------------------------------------------------

    def _schedule_checkpoint(self):
        if self._checkpoint_timer is not None or self.finished is not None:
            return
        loop = asyncio.get_running_loop()
        due = self._checkpoint_at + settings.RUN_CHECKPOINT_SECONDS
        self._checkpoint_timer = loop.call_at(max(due, loop.time()), self._checkpoint)

    def _checkpoint(self):
        self._checkpoint_timer = None
        if self.finished is not None:
            return  # the final save stores everything
        if self._checkpointing is not None:
            return  # _checkpointed() schedules the next one
        if not self.recorded.done():
            # The Run is not saved yet: checkpoint as soon as it is.
            self.recorded.add_done_callback(lambda _: self._schedule_checkpoint())
            return
        seq = len(self.log)
        if seq == self._checkpoint_seq:
            return
        self._checkpoint_at = asyncio.get_running_loop().time()
        # Frozen here, on the loop, where the Assembly grows.
        snapshot = self.assembly.snapshot()
        lease = timezone.now() + timedelta(seconds=settings.RUN_LEASE_SECONDS)
        self._checkpoint_seq = seq
        self._checkpointing = checkpoint_writer().add(self.run, snapshot, seq, lease)
        self._checkpointing.add_done_callback(self._checkpointed)

    def _checkpointed(self, task):
        self._checkpointing = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("checkpointing run %s failed: %s", self.uuid, task.exception())
        if len(self.log) > self._checkpoint_seq:
            self._schedule_checkpoint()

    # -- the end ----------------------------------------------------------------

    async def _finish(self, status):
        if self._checkpoint_timer is not None:
            self._checkpoint_timer.cancel()
            self._checkpoint_timer = None
        assembly = self.assembly
        try:
            for hook in self.spec.on_finish:
                try:
                    await hook(assembly)
                except Exception:
                    log.exception("a finish hook of run %s failed", self.uuid)
            self.over.set_result(status)
            # A gateway chat has no conversation to continue.
            reply = (self.spec.endpoint == "chat" and status == Run.COMPLETED
                     and assembly.choices and self.spec.conversation is not None)
            final = (status, assembly, len(self.log) + 1, reply)
            # A run that ended before its first save was written (held, or
            # waiting behind another write) is stored by one write: what a
            # crash would leave is the same (nothing, until that write lands).
            if writer().replace(self.recorded, _record, self.spec, self.run, final):
                await self.recorded
            else:
                await self.recorded
                if self._checkpointing is not None:
                    with suppress(Exception):
                        await self._checkpointing
                await writer().add(_final, self.run, *final)
        except Exception:
            # The database is gone: say how the run ended all the same.
            log.exception("storing run %s failed", self.uuid)
        finally:
            if not self.over.done():  # a hook was cancelled (the loop ends)
                self.over.set_result(status)
            self.status = status
            LIVE.pop(self.uuid, None)
            ended = Ended(status)
            await self.publish(ended)
            if self.watchers:
                hub.send_events(self)
            hub.disown(self)


class CheckpointWriter:
    """This process's checkpoint writes: one database call at a time, each
    carrying every checkpoint that fell due while the previous one was being
    written (one thread hop and one transaction for many runs, not one each:
    with hundreds of streams the writes would otherwise queue for threads)."""

    def __init__(self):
        self.pending = {}  # run uuid -> (run, snapshot, seq, lease, future)
        self.writing = False

    def add(self, run, snapshot, seq, lease):
        future = asyncio.get_running_loop().create_future()
        self.pending[run.uuid] = (run, snapshot, seq, lease, future)
        if not self.writing:
            self._write()
        return future

    def _write(self):
        batch, self.pending = list(self.pending.values()), {}
        self.writing = True
        task = asyncio.ensure_future(db(_write_checkpoints, [b[:4] for b in batch]))
        task.add_done_callback(lambda task: self._written(task, batch))

    def _written(self, task, batch):
        self.writing = False
        for *_, future in batch:
            if future.done():
                continue
            if task.cancelled():
                future.cancel()
            elif task.exception() is not None:
                future.set_exception(task.exception())
            else:
                future.set_result(None)
        if self.pending:
            self._write()


def _per_loop(cls):
    """One `cls` per event loop (its tasks and futures belong to that loop;
    a worker process may run several loops), forgotten with the loop."""
    instances = weakref.WeakKeyDictionary()

    def get():
        loop = asyncio.get_running_loop()
        if loop not in instances:
            instances[loop] = cls()
        return instances[loop]
    return get


checkpoint_writer = _per_loop(CheckpointWriter)


# How many writes may wait for the database before plain calls wait for
# their own (start_until_over): a bound on the runs kept in memory, and on
# how late a Run reaches the history.
WRITES_AHEAD = 64


class Writer:
    """This process's other run writes (each Run's first and final save): one
    database call at a time, carrying every write asked for while the
    previous call was out, in one transaction with a savepoint each (one
    failing write spoils no other). Concurrent runs share thread hops and
    commits instead of queueing one each; a write is never held back to
    wait for company (only as long as its caller says, `hold`), and is
    stored before the caller's await returns (so Ended, published after
    the final save, means the Run is stored)."""

    def __init__(self):
        self.pending = []  # (fn, args, future)
        self.held = {}  # future -> (the timer that makes it due, fn, args)
        self.writing = False
        self.closing = False  # the loop is ending: nothing is held any more

    def behind(self):
        return len(self.pending) >= WRITES_AHEAD

    def add(self, fn, *args):
        future = asyncio.get_running_loop().create_future()
        self._queue(fn, args, future)
        return future

    def hold(self, seconds, fn, *args):
        """add(), `seconds` later: `release()` makes it due sooner,
        `replace()` makes it another write."""
        if seconds <= 0 or self.closing:
            return self.add(fn, *args)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.held[future] = (loop.call_later(seconds, self.release, future), fn, args)
        return future

    def replace(self, future, fn, *args):
        """Make the write that `future` stands for fn(*args) instead, if it
        has not gone to the database yet (held, or waiting for the call in
        flight); `future` then gives fn's outcome. False if it has."""
        if (held := self.held.pop(future, None)) is not None:
            held[0].cancel()
            self._queue(fn, args, future)
            return True
        for i, (_, _, pending) in enumerate(self.pending):
            if pending is future:
                self.pending[i] = (fn, args, future)
                return True
        return False

    def release(self, future):
        """The held write `future` stands for is due now (its time is up,
        or its caller says so)."""
        if (held := self.held.pop(future, None)) is not None:
            timer, fn, args = held
            timer.cancel()
            self._queue(fn, args, future)

    def _queue(self, fn, args, future):
        self.pending.append((fn, args, future))
        if not self.writing:
            self._write()

    def _write(self):
        batch, self.pending = self.pending, []
        self.writing = True
        task = asyncio.ensure_future(db(_write_batch, [(fn, args) for fn, args, _ in batch]))
        task.add_done_callback(lambda task: self._written(task, batch))

    def _written(self, task, batch):
        self.writing = False
        outcomes = None if task.cancelled() or task.exception() else task.result()
        for i, (*_, future) in enumerate(batch):
            if future.done():
                continue
            if task.cancelled():
                future.cancel()
            elif task.exception() is not None:
                future.set_exception(task.exception())
            elif isinstance(outcomes[i], BaseException):
                future.set_exception(outcomes[i])
            else:
                future.set_result(outcomes[i])
        if self.pending:
            self._write()


writer = _per_loop(Writer)


def _write_batch(items):
    if len(items) == 1:  # alone: no savepoint needed
        fn, args = items[0]
        try:
            return [fn(*args)]
        except Exception as exc:
            return [exc]
    outcomes = []
    with transaction.atomic():
        for fn, args in items:
            try:
                with transaction.atomic():
                    outcomes.append(fn(*args))
            except Exception as exc:
                outcomes.append(exc)
    return outcomes


def _final(run, status, assembly, seq, reply):
    """The Run's final save (and, for a chat that completed, the reply on its
    conversation's thread)."""
    run.finish(status, assembly, assembly.error, seq)
    if reply:
        try:
            with transaction.atomic():  # its failure must not undo the Run's save
                _append_reply(run, assembly)
        except Exception:
            log.exception("adding the reply of run %s to its conversation failed", run.uuid)


def _write_checkpoints(batch):
    with transaction.atomic():
        for run, snapshot, seq, lease in batch:
            run.checkpoint(snapshot, seq, lease)


def _record(spec, run, final=None):
    """The Run's first save (and its conversation's). `final`: _final's
    arguments, for a run that ended before this was written: the first and
    the final save as one INSERT. A run with nothing to store with it (no
    conversation, no on_record hook: the gateway's) is that INSERT alone:
    no BEGIN, savepoint and COMMIT around one statement, which cost a third
    of the write's time."""
    failed = None
    for hook in spec.before_record:
        hook()
    alone = run.conversation is None and not spec.on_record
    with nullcontext() if alone else transaction.atomic():
        if run.conversation is not None:
            run.conversation.save()
            if spec.thread is not None:
                run.conversation.set_messages(spec.thread)
            run.conversation_id = run.conversation.pk
        if final is None:
            run.save()
        else:
            began = {f.attname: getattr(run, f.attname) for f in run._meta.concrete_fields}
            try:
                with _savepoint():
                    _final(run, *final)
            except Exception as exc:
                # An outcome the database refuses must not cost the record
                # of the run: stored as it began, as two writes would have
                # (the keeper interrupts it), and the failure reported.
                for name, value in began.items():
                    setattr(run, name, value)
                run.save()
                failed = exc
        for hook in spec.on_record:
            hook()
    if failed is not None:
        raise failed


def _savepoint():
    """Inside a transaction, a savepoint: a statement the database refuses
    spoils nothing else (PostgreSQL would refuse the rest of the
    transaction). In autocommit, nothing: such a statement left nothing."""
    return transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()


def _append_reply(run, assembly):
    # The first choice joins the thread, so the user can go on from it.
    reply = assembly.choices[min(assembly.choices)].as_chat()["message"]
    run.conversation.append_message(reply, run=run)


def build(spec):
    """The Run a spec describes (unsaved) and its wire body: (run, prepared)."""
    prepared = prepare(spec.target, spec.endpoint, spec.body, stream=spec.streams)
    model = spec.model
    run = Run(
        owner=spec.owner,
        conversation=spec.conversation,
        source=spec.source,
        gateway_key_prefix=spec.key_prefix,
        endpoint=spec.endpoint,
        model=model,
        model_name=model.display_name or model.upstream_id,
        provider_name=model.provider.name,
        request=prepared[0],
        template=spec.template,
        prompt_text=prompt_text(spec.endpoint, spec.body),
        lease_until=timezone.now() + timedelta(seconds=settings.RUN_LEASE_SECONDS),
    )
    return run, prepared


def wire_body(target, endpoint, body):
    """What a playground run of this clean body sends upstream, and so
    records (View code shows the same): streamed unless the body says not."""
    return prepare(target, endpoint, body, stream=body.get("stream", True) is not False)[0]


async def start(spec, subscriber=None):
    """Start a run; `subscriber` (if any) is attached before its first event."""
    run, prepared = build(spec)
    live = LiveRun(spec, run, prepared)
    LIVE[live.uuid] = live
    if subscriber is not None:
        # Nothing happened yet: no backlog, so no need for its lock (which
        # the caller may hold, to say "started" before the first event).
        live.subscribers.add(subscriber)
    live.task = asyncio.create_task(live._drive(), name=f"run {live.uuid}")
    live.task.add_done_callback(_drop_cancellation)
    hub.own(live)
    return live


def _drop_cancellation(task):
    # A task that ended cancelled (a Stop, a client that hung up) keeps the
    # CancelledError it ended with until its result is asked for. Its
    # traceback holds _drive's frame, so the LiveRun, which holds the task:
    # a cycle that kept every such run's objects for the collector
    # (test_cycles.py). Asking for it once drops it.
    if task.cancelled():
        with suppress(asyncio.CancelledError):
            task.exception()


# How long close() waits for the runs' ends, and then for their final saves.
CLOSE_SECONDS = 10


async def close():
    """End this event loop's part in runs before the loop ends (the tests do,
    after each async test): every run it drives is stopped, kept as
    interrupted with what arrived and its final save awaited, then its hub
    closed. Cancelling them all instead, as a loop's end does, may leave a
    hub listener that never ends (hub.Hub.close)."""
    loop = asyncio.get_running_loop()
    # A run that starts while this one closes (a server still takes requests
    # while it stops) does not hold its first save back.
    writer().closing = True
    mine = [live for live in list(LIVE.values())
            if live.task is not None and live.task.get_loop() is loop]
    try:
        for live in mine:
            if live.stop_status is None:  # one already stopping is left to end
                live.stop(Run.INTERRUPTED)
        # asyncio.wait: the runs' own outcomes are theirs (logged by the
        # engine), and a stuck one must not keep the hub open.
        if mine:
            await asyncio.wait([live.task for live in mine], timeout=CLOSE_SECONDS)
        if finishing := [live.finished for live in mine if live.finished is not None]:
            await asyncio.wait(finishing, timeout=CLOSE_SECONDS)
    finally:
        await hub.close()


def live_run(run_uuid):
    return LIVE.get(str(run_uuid))


async def subscribe(user, run_uuid, subscriber, after=0):
    """Watch a run of the user's from `after` (the last seq the subscriber
    has seen): the events it missed, then the live ones. Raises NotFound."""
    run_uuid = str(run_uuid)
    live = LIVE.get(run_uuid)
    if live is not None:
        if live.run.owner_id != user.pk:
            raise NotFound(run_uuid)
        await live.attach(subscriber, after)
        return
    try:
        run = await db(_own_run, user, run_uuid)
    except NotFound:
        # Not stored yet? A run's first save waits for its upstream's answer
        # (or its end), so a page reloaded onto another process may ask for
        # a run that lives elsewhere before it is in the database: its
        # process answers for it (and checks the owner).
        if _is_uuid(run_uuid) and await hub.watch(run_uuid, user, subscriber, after):
            return
        raise
    if run.status == Run.RUNNING and hub.shared():
        # Another process drives it. Wait for its answer as long as its lease
        # says it lives (a busy process may answer late); no answer by then
        # means it died.
        lease_left = (run.lease_until - timezone.now()).total_seconds() if run.lease_until else 0
        timeout = max(hub.ANSWER_TIMEOUT, lease_left + 1)
        if await hub.watch(run_uuid, user, subscriber, after, timeout):
            return
        run = await db(_own_run, user, run_uuid)
    if run.status == Run.RUNNING:
        # Nobody drives it. With the in-memory layer there is only this
        # process, so it is gone; across processes its lease has run out.
        if not hub.shared() or run.lease_until is None or run.lease_until < timezone.now():
            await db(_interrupt, run)
    await _replay_stored(run, subscriber, after)


def detach(run_uuid, subscriber):
    """The subscriber went away (a closed socket, a gone client)."""
    live = LIVE.get(str(run_uuid))
    if live is not None:
        live.detach(subscriber)
    else:
        hub.unwatch(str(run_uuid), subscriber)


async def stop(user, run_uuid, status=Run.CANCELLED):
    """Stop a run of the user's, wherever it runs."""
    run_uuid = str(run_uuid)
    live = LIVE.get(run_uuid)
    if live is not None:
        if live.run.owner_id == user.pk:
            live.stop(status)
        return
    await hub.stop(run_uuid, user.pk, status)


def _own_run(user, run_uuid):
    run = Run.objects.filter(uuid=run_uuid, owner=user).first() if _is_uuid(run_uuid) else None
    if run is None:
        raise NotFound(run_uuid)
    return run


def _is_uuid(text):
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _interrupt(run):
    Run.objects.filter(pk=run.pk).interrupt()
    run.refresh_from_db()


async def stored_end(run_uuid, silent_for):
    """A watched run's stored state and its end, as events, for a watcher
    whose owner no longer answers (hub.Hub._keep_watching); None while the
    owner may still drive it. `silent_for`: seconds since the owner last
    sent anything."""
    return await db(_stored_end, run_uuid, silent_for)


def _stored_end(run_uuid, silent_for):
    run = Run.objects.filter(uuid=run_uuid).first()
    if run is None:
        # Not stored yet: its first save waits for the upstream's answer. An
        # owner silent for longer than a lease died before it.
        if silent_for > settings.RUN_LEASE_SECONDS:
            return [Ended(Run.INTERRUPTED)]
        return None
    if run.status == Run.RUNNING:
        if run.lease_until is not None and run.lease_until >= timezone.now():
            return None  # its process vouches for it: a busy owner answers late
        _interrupt(run)
    return [*stored_events(run), Ended(run.status)]


def stored_events(run):
    """A stored run (finished, or its last checkpoint) as the events that
    rebuild it: what a subscriber gets when no process drives the run."""
    events = list(events_from_response(run.endpoint, run.response or {"choices": []}))
    events[1:1] = [Notice(n["message"], n.get("field")) for n in run.notices or ()]
    if run.error:
        events.append(Error(run.error, run.error_code or "upstream"))
    return events


async def _replay_stored(run, subscriber, after):
    # A stored state is one point in the run's sequence (run.seq): its events
    # all carry that number, and whatever comes live after it is newer.
    seq = max(run.seq, after)
    for event in stored_events(run):
        await subscriber.send(seq, event)
    if run.status != Run.RUNNING:
        await subscriber.send(seq + 1, Ended(run.status))


async def start_until_over(spec):
    """Start a run and wait for its outcome, not for its Run to be stored:
    the final save is queued at once and goes on behind the caller's answer
    (close() awaits it at a clean stop; a killed process may lose it). The
    caller is the run's subscriber until then: one that is cancelled before
    the outcome (a client that hung up) detaches, which ends a gateway run
    (on_detach END), and another watcher that comes and goes cannot.
    Returns the LiveRun."""
    subscriber = Subscriber(_ignore)
    live = await start(spec, subscriber)
    try:
        await asyncio.shield(live.over)
    except asyncio.CancelledError:
        live.detach(subscriber)
        raise
    if writer().behind():
        # The database is slower than the calls come (one process at full
        # speed shares its one interpreter between the calls and the
        # writes): answered ahead of their saves, the calls would outrun
        # their records without bound, every finished run waiting in memory
        # (and in the collector's way) for minutes. So, past WRITES_AHEAD
        # waiting writes, a call is answered once its Run is stored.
        await asyncio.shield(live.finished)
    return live


async def _ignore(seq, event):
    pass


async def start_watched(spec):
    """Start a run and watch it: returns (live, watched), a Watched whose
    events end with Ended (once the Run is stored)."""
    watched = Watched()
    watched.live = await start(spec, watched.subscriber)
    return watched.live, watched


class Watched:
    """One watcher of a run started here, from its first event.

    Read the events with `async for` (the last one is Ended), or read some,
    then hand the rest to `forward(sink)`: from then on `sink(event)` is
    awaited by the run's own task as the run publishes each event (Ended
    by the task of its final save). A
    streamed gateway answer does (apps/gateway/sse.py): each chunk goes out
    with no queue and no wake-up of the response's task in between, one
    trip through the event loop less per chunk (bench/README.md,
    session 12). The sink runs in the run's task, so it must not wait on
    its client (daphne's send only buffers). Closing it (aclose(), or a
    forward() cancelled by a client that went away) detaches from the run."""

    def __init__(self):
        self.live = None
        self.subscriber = Subscriber(self._put)
        self._queue = asyncio.Queue()
        self._sink = None
        self._forwarded = None  # resolves once the sink has had Ended
        self._over = False  # Ended was read
        self._events = self._read()

    def __aiter__(self):
        return self._events

    async def aclose(self):
        await self._events.aclose()

    async def _put(self, seq, event):
        if self._sink is None:
            self._queue.put_nowait(event)
            return
        forwarded = self._forwarded  # (_detach clears it)
        try:
            await self._sink(event)
        except Exception as exc:  # not a cancellation of the publishing task
            if not forwarded.done():
                forwarded.set_exception(exc)
            raise  # the run drops this subscriber (Broadcast.publish)
        if isinstance(event, Ended) and not forwarded.done():
            forwarded.set_result(None)

    async def _read(self):
        try:
            while True:
                event = await self._queue.get()
                self._over = isinstance(event, Ended)
                yield event
                if self._over:
                    return
        finally:
            self._detach()

    def _detach(self):
        if self.subscriber.send is _ignore:
            return  # detached already (forward() closes the reader, then this)
        self.live.detach(self.subscriber)
        # It takes nothing more and holds nothing: its send was a method of
        # this, and the sink a response's, a cycle that would keep each
        # call's objects for the collector (test_cycles.py).
        self.subscriber.send = _ignore
        self._sink = self._forwarded = None

    async def forward(self, sink):
        """Await `sink(event)` for every event not read yet, in order, up to
        and including Ended (none, if Ended was read already)."""
        try:
            if self._over:
                return
            # Held, no event is delivered: what waits in the queue goes to the
            # sink first, then the sink takes the queue's place.
            async with self.subscriber.lock:
                while not self._queue.empty():
                    event = self._queue.get_nowait()
                    await sink(event)
                    if isinstance(event, Ended):
                        return
                self._forwarded = asyncio.get_running_loop().create_future()
                self._sink = sink
            await self._forwarded
        finally:
            await self._events.aclose()
            self._detach()
