"""A run's events in order, and the subscribers that watch them.

Shared by the process that drives a run (engine.LiveRun) and the processes
that watch it from afar (hub.Mirror).
"""

import asyncio
import logging

log = logging.getLogger(__name__)


class Subscriber:
    """One watcher of one run. `send(seq, event)` is awaited for each event,
    in order and exactly once, whichever process the run lives in."""

    def __init__(self, send):
        self.send = send
        self.next = 1  # the seq of the next event it has not had
        # Held while a backlog is sent, so live events wait behind it.
        self.lock = asyncio.Lock()

    async def deliver(self, seq, event):
        async with self.lock:
            if seq < self.next:
                return  # already had it (a backlog and a live event crossed)
            self.next = seq + 1
            await self.send(seq, event)


class Broadcast:
    """Every event of a run so far (event n has seq n) and its subscribers."""

    def __init__(self):
        self.log = []
        self.subscribers = set()

    async def attach(self, subscriber, after=0):
        # The lock is free (a new subscriber): taking it does not yield, so
        # registering and reading the backlog happen at one instant.
        async with subscriber.lock:
            self.subscribers.add(subscriber)
            backlog = self.log[after:]
            subscriber.next = max(len(self.log), after) + 1
            for seq, event in enumerate(backlog, after + 1):
                await subscriber.send(seq, event)

    async def publish(self, event):
        self.log.append(event)
        seq = len(self.log)
        for subscriber in tuple(self.subscribers):
            try:
                await subscriber.deliver(seq, event)
            except Exception as exc:
                # A subscriber that cannot take an event (a socket closing
                # as the page reloads) must not cost the run or the other
                # subscribers anything. Routine: no traceback.
                log.info("dropping a subscriber of a run: %s", exc)
                self.detach(subscriber)
        return seq

    def detach(self, subscriber):
        self.subscribers.discard(subscriber)
