"""Runs across processes, over the channel layer.

Behind a load balancer, a reload or a second tab may land on another server
process than the one driving the run. Each process has one hub: a channel of
its own on the channel layer (channels-redis in production) and a task that
reads it.

- The process that drives a run (the owner) joins the run's control group,
  `runs-ctl.<uuid>`, so any process can reach it without knowing where it is.
- A process that wants to watch the run (a watcher) sends `runs.subscribe` to
  that group; the owner answers with every event so far and from then on
  sends it each new event (`runs.events`), until it says `runs.unsubscribe`.
  The watcher keeps a mirror of the run's events (a Broadcast, like the
  owner's), so any number of its own subscribers share one subscription.
- `runs.stop` to the group stops the run from anywhere.

Events carry their sequence numbers: the mirror puts them in order and
drops repeats. The owner keeps, per watcher, how far it has sent (a Link)
and one task that sends the rest (its pump), so the run itself never waits
on Redis. A send Redis refuses (a dropped connection, a full or restarting
server) is tried again, with everything after it; a watcher is dropped only
when its channel is full (it stopped reading) or after RETRY_DELAYS of
failed tries. A mirror that sees a gap (a message lost after Redis took it)
asks again from what it has. A mirror that hears nothing for a third of a
lease asks again too: a dropped watcher is taken back and gets what it
missed, and an owner that no longer answers (its process died, or the run
ended and its end was lost) leaves the run to the database, which says how
it ended, or that it was interrupted once its lease ran out.
With the in-memory layer there is one process and the hub is never used.
"""

import asyncio
import logging
import uuid
import weakref

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from .broadcast import Broadcast
from .protocol import Ended, decode, encode

log = logging.getLogger(__name__)

# How long a watcher waits for the owner of a running run to answer before
# it takes the run for orphaned (its process died) and reads the database.
ANSWER_TIMEOUT = 3.0
# How long close() waits for joins under way, and then for the listener.
CLOSE_SECONDS = 5.0
# When a send to a watcher failed, the waits before each new try (~16 s in
# all: a Redis restart or failover); after the last, the watcher is dropped.
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
# How often the runs this process drives join their control groups again:
# Redis restarted without its data (it keeps nothing on disk here) has
# forgotten them, and a run nobody else can reach cannot be stopped or
# watched from another process.
REJOIN_SECONDS = 5.0


def quiet_seconds():
    """How long a mirror hears nothing of its run before it asks the owner
    again: as often as the owner renews its lease (keeper.py), so a dead
    owner is noticed about as soon as its lease runs out."""
    return settings.RUN_LEASE_SECONDS / 3

_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]"
_hubs = weakref.WeakKeyDictionary()


# A channel layer of its own (the same Redis, settings.CHANNEL_LAYERS["runs"]):
# channels-redis reads each layer's channels under one lock, and the hub's
# long-lived receive must not share it with the websocket consumers'.
LAYER = "runs"


def shared():
    """Whether other processes can be reached (not the in-memory layer)."""
    layer = get_channel_layer(LAYER)
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


def control_group(run_uuid):
    return f"runs-ctl.{run_uuid}"


def current():
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(get_channel_layer(LAYER))
    return hub


class Mirror(Broadcast):
    """Another process's run, as seen from this one."""

    def __init__(self, hub, run_uuid, user_id):
        super().__init__()
        self.hub = hub
        self.uuid = run_uuid
        self.user_id = user_id
        # Named in its (un)subscribes: the owner ignores an unsubscribe of an
        # earlier mirror of this process that arrives after this one's subscribe.
        self.ref = uuid.uuid4().hex
        self.answered = asyncio.Event()  # the owner's first answer came
        self.replied = asyncio.Event()  # and its answer to the keeper's last ask
        self.heard = asyncio.get_running_loop().time()  # when the owner last sent anything
        self.pending = {}
        self._asked_after = None  # the gap it asked the owner to fill
        self.keeper = None  # the task that asks again when the owner is quiet
        self.closed = False  # it has its run's end: it takes nothing more

    def subscribe_message(self, after=0):
        return {"type": "runs.subscribe", "user": self.user_id, "mirror": self.ref,
                "after": after}

    async def take(self, first, events):
        self.answered.set()
        self.replied.set()
        self.heard = asyncio.get_running_loop().time()
        for seq, data in enumerate(events, first):
            if seq > len(self.log):
                self.pending[seq] = decode(data)
        while not self.closed and (seq := len(self.log) + 1) in self.pending:
            event = self.pending.pop(seq)
            if isinstance(event, Ended):
                self.closed = True
                self.forget()
            await self.publish(event)
        # The owner sends in order, from the first event this mirror has not
        # had: a gap means a message was lost on the way (Redis restarted,
        # say). Ask for everything after what it has, once per gap.
        if not self.closed and self.pending and self._asked_after != len(self.log):
            self._asked_after = len(self.log)
            self.hub.spawn(self.hub.tell_owner(self.uuid, self.subscribe_message(len(self.log))))

    def forget(self):
        if self.hub.mirrors.get(self.uuid) is self:
            del self.hub.mirrors[self.uuid]
        if self.keeper is not None and self.keeper is not asyncio.current_task():
            self.keeper.cancel()

    async def end(self, events):
        """The run is over without its owner saying so: `events` are its
        stored state and its end, from the database (engine.stored_end).
        They begin with a Meta, which tells a page to show them instead of
        what it has (a page cannot tell which events it missed)."""
        if self.closed:
            return
        self.closed = True
        self.forget()
        self.unsubscribe()  # an owner alive after all stops sending
        for event in events:
            await self.publish(event)

    def detach(self, subscriber):
        super().detach(subscriber)
        if not self.subscribers and self.hub.mirrors.get(self.uuid) is self:
            self.forget()
            self.unsubscribe()

    def unsubscribe(self):
        self.hub.spawn(self.hub.layer.group_send(
            control_group(self.uuid),
            {"type": "runs.unsubscribe", "run": self.uuid, "reply_to": self.hub.channel,
             "mirror": self.ref},
        ))


class Link:
    """What one watcher (a mirror in another process) has had of one run."""

    def __init__(self, mirror):
        self.mirror = mirror  # the mirror's ref
        self.sent = 0  # the watcher has had seqs 1..sent
        self.answer = True  # it waits for a reply, even one with no events
        self.epoch = 0  # bumped by each (re)subscribe: a send begun before it does not count
        self.pump = None  # the task sending the rest, while there is any
        self.backing_off = False

    def restart(self, after):
        self.sent, self.answer, self.epoch = after, True, self.epoch + 1


class Hub:
    def __init__(self, layer):
        self.layer = layer
        self.channel = None
        self.listener = None
        self.owned = set()  # uuids of the runs this process drives
        self.joined = {}  # those whose control group has our channel: uuid -> it
        self.mirrors = {}
        self.links = {}  # (run uuid, watcher's channel) -> Link, for runs owned here
        self._opening = asyncio.Lock()
        self._tasks = set()
        # Runs whose membership may differ from what they need (an ordered
        # set), and the one task that brings it in line: see changed().
        self._changes = {}
        self._membership = None
        self._rejoining = None  # the task that joins the groups again, while any are joined
        self.closing = False  # while close() runs: no new watching

    def spawn(self, coroutine):
        # Fire and forget, but keep a reference (asyncio only keeps weak ones).
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def changed(self, run_uuid):
        """A run began or ended here: join or leave its control group.

        One task does every join and leave of the process, one after the
        other. Fired off as a task each (as they were), they held a Redis
        connection each at once: under load (32 clients on two processes)
        they outran redis-py's pool of 100 and failed with "Too many
        connections", leaving runs that no other process could stop. In
        order, they hold one; and a run that ended before its turn (a plain
        call answered in milliseconds while others queue) costs nothing."""
        self._changes[run_uuid] = None
        if self._membership is None or self._membership.done():
            self._membership = self.spawn(self._apply_changes())

    async def _apply_changes(self):
        while self._changes:
            run_uuid = next(iter(self._changes))
            del self._changes[run_uuid]
            wanted, joined = run_uuid in self.owned, run_uuid in self.joined
            try:
                if wanted and not joined:
                    channel = await self.open()
                    await self.layer.group_add(control_group(run_uuid), channel)
                    self.joined[run_uuid] = channel
                    if self._rejoining is None or self._rejoining.done():
                        self._rejoining = self.spawn(self._rejoin())
                elif joined and not wanted:
                    channel = self.joined.pop(run_uuid)
                    await self.layer.group_discard(control_group(run_uuid), channel)
            except Exception as exc:  # Redis away: the run is not reachable from elsewhere
                log.warning("run hub: joining or leaving run %s's group failed (%s)",
                            run_uuid, exc)

    async def _rejoin(self):
        """Every REJOIN_SECONDS, while runs are joined, join their groups
        again (group_add of a member it has is a no-op for Redis)."""
        while self.joined:
            await asyncio.sleep(REJOIN_SECONDS)
            for run_uuid, channel in list(self.joined.items()):
                if run_uuid not in self.owned or self.joined.get(run_uuid) != channel:
                    continue  # leaving it, or left
                try:
                    await self.layer.group_add(control_group(run_uuid), channel)
                except Exception as exc:  # Redis away: the next round tries again
                    log.warning("run hub: joining run %s's group again failed (%s)",
                                run_uuid, exc)
                    break

    async def open(self):
        async with self._opening:
            if self.channel is None:
                # One listener for the life of the event loop (the
                # server's): cancelling a receive while the consumers'
                # receives share channels-redis's lock is not safe.
                self.channel = await self.layer.new_channel()
                self.listener = self.spawn(self._listen(self.channel))
        return self.channel

    async def close(self):
        """End the listener: by a message on its own channel, which it reads
        and returns on, not by cancelling it. A cancellation that lands just
        as a reply reaches channels-redis's receive (redis-py 8.1, Python
        3.11) is lost there and the receive reads on, so whoever awaits the
        cancelled listener waits for ever: the end of an event loop that
        cancels and awaits every task (each async test's, asyncio.run's)
        hung that way, now and then, in CI."""
        # A pump waiting to try Redis again would hold the close up for its
        # whole schedule: it stops (its watcher hears no more of the run,
        # which ends here anyway, stored as interrupted).
        for link in self.links.values():
            if link.backing_off and link.pump is not None:
                link.pump.cancel()
        # Nor may the rejoining (asleep most of the time; cancelling a
        # group_add under way is safe: redis-py drops that connection, and
        # the groups go with this process anyway), nor the mirrors' keepers,
        # nor a watch that would start one (it would open a listener after
        # this one is gone, which nothing ends).
        self.closing = True
        try:
            await self._close()
        finally:
            self.closing = False

    async def _close(self):
        if self._rejoining is not None:
            self._rejoining.cancel()
        for mirror in list(self.mirrors.values()):
            mirror.forget()
        # Joins, leaves and sends under way first: a join may still open the listener.
        while pending := [task for task in self._tasks if task is not self.listener]:
            await asyncio.wait(pending, timeout=CLOSE_SECONDS)
            if not all(task.done() for task in pending):
                break
        if self._membership is not None and not self._membership.done():
            # Redis too slow to drain the queue in time: its next join would
            # open a listener after this one is gone, which nothing ends.
            self._membership.cancel()
        self.links.clear()
        # Under the opening lock, the channel forgotten first: a join from
        # now on opens a listener of its own instead of joining this one.
        async with self._opening:
            channel, listener = self.channel, self.listener
            self.channel = self.listener = None
            if listener is None or listener.done():
                return
            try:
                await self.layer.send(channel, {"type": "runs.close"})
            except Exception as exc:  # Redis away: the listener cannot be told
                log.warning("run hub: closing failed (%s)", exc)
            done, _ = await asyncio.wait([listener], timeout=CLOSE_SECONDS)
            if not done:
                log.warning("run hub: the listener did not end; cancelling it")
                listener.cancel()

    async def watch(self, run_uuid, user, subscriber, after, timeout=ANSWER_TIMEOUT):
        """Subscribe to a run driven by another process. False if nobody
        answers for it within `timeout` (its process is gone)."""
        if self.closing:
            return False  # the caller reads the database
        mirror = self.mirrors.get(run_uuid)
        if mirror is None:
            mirror = self.mirrors[run_uuid] = Mirror(self, run_uuid, user.pk)
            await self.tell_owner(run_uuid, mirror.subscribe_message())
        await mirror.attach(subscriber, after)
        try:
            await asyncio.wait_for(mirror.answered.wait(), timeout)
        except TimeoutError:
            mirror.detach(subscriber)
            return False
        if mirror.keeper is None and self.mirrors.get(run_uuid) is mirror and not self.closing:
            mirror.keeper = self.spawn(self._keep_watching(mirror))
        return True

    async def _keep_watching(self, mirror):
        """While the mirror is watched: when the owner has sent nothing for
        quiet_seconds(), ask it again from what the mirror has. It answers
        (even with no events) while it drives the run, and a watcher it had
        dropped (its channel full, or Redis away longer than RETRY_DELAYS)
        is taken back. No answer: the database says whether the run is over
        (it ended and its end was lost, or its process died and its lease
        ran out); until then the owner still vouches for it."""
        from .engine import stored_end  # the engine imports this module

        loop = asyncio.get_running_loop()
        asked = loop.time()
        while self.mirrors.get(mirror.uuid) is mirror:
            quiet = quiet_seconds()
            await asyncio.sleep(max(0.0, max(mirror.heard, asked) + quiet - loop.time()))
            if loop.time() - max(mirror.heard, asked) < quiet:
                continue
            asked = loop.time()
            mirror.replied.clear()
            try:
                await self.tell_owner(mirror.uuid, mirror.subscribe_message(len(mirror.log)))
                await asyncio.wait_for(mirror.replied.wait(), ANSWER_TIMEOUT)
                continue
            except TimeoutError:
                pass
            except Exception as exc:  # Redis away: the database may still know
                log.warning("run hub: asking after run %s failed (%s)", mirror.uuid, exc)
            try:
                events = await stored_end(mirror.uuid, loop.time() - mirror.heard)
            except Exception as exc:  # the database away too: ask again later
                log.warning("run hub: reading run %s failed (%s)", mirror.uuid, exc)
                continue
            if events is not None:
                await mirror.end(events)
                return

    async def tell_owner(self, run_uuid, message):
        await self.layer.group_send(
            control_group(run_uuid), {**message, "run": run_uuid, "reply_to": await self.open()}
        )

    async def _listen(self, channel):
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if asyncio.current_task().cancelling():
                    # Cancelled (the loop is closing) and the layer turned
                    # that into another error: stop, don't listen again.
                    raise asyncio.CancelledError from exc
                # A dropped connection to Redis must not end this process's
                # part in every run: wait a moment and listen again.
                log.warning("run hub: receiving failed (%s); retrying", exc)
                await asyncio.sleep(0.5)
                continue
            if message.get("type") == "runs.close":
                return
            try:
                await self._dispatch(message)
            except Exception:
                log.exception("run hub: handling %s failed", message.get("type"))

    async def _dispatch(self, message):
        from .engine import LIVE  # the owner's side; engine imports this module

        kind, run_uuid = message.get("type"), message.get("run")
        if kind == "runs.events":
            mirror = self.mirrors.get(run_uuid)
            if mirror is not None:
                await mirror.take(message["first"], message["events"])
            return
        live = LIVE.get(run_uuid)
        if live is None:
            return  # over already; the asker reads the database
        if kind == "runs.subscribe":
            if live.run.owner_id != message.get("user"):
                return
            channel = message["reply_to"]
            live.watch_from(channel)
            key = (live.uuid, channel)
            link = self.links.get(key)
            if link is None or link.mirror != message.get("mirror"):
                link = self.links[key] = Link(message.get("mirror"))  # a new mirror
            link.restart(min(message.get("after", 0), len(live.log)))
            self.wake(live, channel)
        elif kind == "runs.unsubscribe":
            link = self.links.get((live.uuid, message["reply_to"]))
            if link is None or message.get("mirror") in (None, link.mirror):
                self._forget(live, message["reply_to"], link)
        elif kind == "runs.stop":
            if live.run.owner_id == message.get("user"):
                live.stop(message["status"])

    def wake(self, live, channel):
        """The watcher has events to get: make sure its pump runs."""
        link = self.links.get((live.uuid, channel))
        if link is not None and (link.pump is None or link.pump.done()):
            link.pump = self.spawn(self._pump(live, channel, link))

    async def _pump(self, live, channel, link):
        """Send the watcher, in order, what it has not had, until it has it
        all. Each send carries every event from the first it lacks to the
        newest, so one that goes through leaves nothing behind."""
        key = (live.uuid, channel)
        failures = 0
        while self.links.get(key) is link and (link.answer or link.sent < len(live.log)):
            first, last, epoch = link.sent + 1, len(live.log), link.epoch
            try:
                await self.layer.send(
                    channel,
                    {"type": "runs.events", "run": live.uuid, "first": first,
                     "events": [encode(e) for e in live.log[first - 1:last]]},
                )
            except ChannelFull:  # that watcher is not reading
                log.warning("run hub: a watcher of run %s is gone (its channel is full)",
                            live.uuid)
                self._forget(live, channel, link)
                return
            except Exception as exc:  # Redis away for a moment: try again
                if failures == len(RETRY_DELAYS):
                    log.warning("run hub: a watcher of run %s is unreachable (%s); dropping it",
                                live.uuid, exc)
                    self._forget(live, channel, link)
                    return
                log.warning("run hub: sending run %s's events to a watcher failed (%s); "
                            "will retry", live.uuid, exc)
                link.backing_off = True
                try:
                    await asyncio.sleep(RETRY_DELAYS[failures])
                finally:
                    link.backing_off = False
                failures += 1
                continue
            failures = 0
            if link.epoch == epoch:  # not asked again from elsewhere meanwhile
                link.sent, link.answer = last, False
        if (self.links.get(key) is link and live.log and isinstance(live.log[-1], Ended)
                and link.sent == len(live.log)):
            del self.links[key]  # it has had the run's end

    def _forget(self, live, channel, link=None):
        key = (live.uuid, channel)
        if link is None or self.links.get(key) is link:
            self.links.pop(key, None)
            live.unwatch_from(channel)


# -- what the engine calls ----------------------------------------------------


async def close():
    """Close this event loop's hub, if it has one (before the loop ends)."""
    hub = _hubs.get(asyncio.get_running_loop())
    if hub is not None:
        await hub.close()


def own(live):
    """Make the run reachable from other processes (not awaited: it must
    not delay the upstream request)."""
    if shared():
        hub = current()
        hub.owned.add(live.uuid)
        hub.changed(live.uuid)


def disown(live):
    if shared():
        hub = current()
        hub.owned.discard(live.uuid)
        hub.changed(live.uuid)


def send_events(live):
    """Each watcher in another process gets the events it has not had (sent
    by its pump: the run does not wait for Redis)."""
    hub = current()
    for channel in tuple(live.watchers):
        hub.wake(live, channel)


async def watch(run_uuid, user, subscriber, after, timeout=ANSWER_TIMEOUT):
    """Subscribe to a run driven by another process (Hub.watch)."""
    if not shared():
        return False
    return await current().watch(run_uuid, user, subscriber, after, timeout)


def unwatch(run_uuid, subscriber):
    if shared():
        mirror = current().mirrors.get(run_uuid)
        if mirror is not None:
            mirror.detach(subscriber)


async def stop(run_uuid, user_id, status):
    if shared():
        await current().tell_owner(
            run_uuid, {"type": "runs.stop", "user": user_id, "status": status}
        )
