"""One gateway call, from a validated body to a stored Run.

Like the playground (apps/studio/runs.py): the Run holds the exact body sent
(never a key); every event the adapter yields is added to an Assembly; when
the call ends, however it ends, the Run is stored with what arrived and a
status:

- completed: the upstream finished;
- failed: the upstream (or the network to it) failed;
- interrupted: the client went away (Django cancels the view's task on
  http.disconnect; the cancel closes the upstream request).

The Run is first saved while the upstream request is already on its way: a
commit (milliseconds on SQLite, more when queued behind other writes) must not
delay the first token. Its final save is shielded from the cancel, so a Run
is never left "running".
"""

import asyncio
import time
from contextlib import aclosing

from channels.db import database_sync_to_async
from django.db import transaction

from apps.history.assemble import Assembly, events_from_response, prompt_text
from apps.history.models import Run
from apps.inference import Error, Meta, Notice, UpstreamError, complete, stream
from apps.inference.client import prepare

from . import limits

ID_PREFIX = {"completions": "cmpl", "chat": "chatcmpl"}


def db(fn, *args):
    """Await fn(*args) in a pooled thread. Not thread-sensitive: each call is
    complete in itself (its own transaction), and a reused thread keeps its
    database connection (CONN_MAX_AGE) where a per-request thread would open
    a new one for every call."""
    return database_sync_to_async(fn, thread_sensitive=False)(*args)


class Call:
    """One request to /v1/completions or /v1/chat/completions: its Run (unsaved
    until `events()` starts), the wire body, and the Assembly of what came back."""

    def __init__(self, key, model, endpoint, body):
        self.key = key
        self.endpoint = endpoint
        self.body = body
        # Responses name the model as the client did (display name or upstream id).
        self.asked = body["model"]
        self.streams = body.get("stream") is True
        self.target = model.target()
        # What goes on the wire is what the Run records.
        sent, _ = prepare(self.target, endpoint, body, stream=self.streams)
        self.assembly = Assembly(endpoint)
        self.run = Run(
            owner=key.owner,
            source="gateway",
            gateway_key_prefix=key.prefix,
            endpoint=endpoint,
            model=model,
            model_name=model.display_name or model.upstream_id,
            provider_name=model.provider.name,
            request=sent,
            prompt_text=prompt_text(endpoint, body),
        )

    def record(self):
        with transaction.atomic():
            self.run.save()
            self.key.touch()

    async def events(self):
        """The adapter's events, each added to the Assembly; Meta rewritten to
        what the client sees (our id, its model name). Stores the Run before
        it ends."""
        # A task of its own: it completes even if this one is cancelled.
        recorded = asyncio.ensure_future(db(self.record))
        status = Run.FAILED
        try:
            async with aclosing(self._upstream()) as events:
                async for event in events:
                    if isinstance(event, Meta):
                        event = self._meta(event)
                    self.assembly.add(event)
                    yield event
            status = Run.FAILED if self.assembly.error else Run.COMPLETED
        except (asyncio.CancelledError, GeneratorExit):
            # The client went away (unless the upstream had failed already).
            status = Run.FAILED if self.assembly.error else Run.INTERRUPTED
            raise
        except Exception as exc:  # a bug must not leave the run "running"
            self.assembly.add(Error(f"internal error: {type(exc).__name__}", "internal"))
            raise
        finally:
            self.assembly.end()
            await asyncio.shield(self._store(recorded, status))

    async def _store(self, recorded, status):
        await recorded
        await db(self.run.finish, status, self.assembly, self.assembly.error)
        await limits.record_tokens(self.key, getattr(self.assembly.usage, "total_tokens", None))

    async def _upstream(self):
        if self.streams:
            async with aclosing(stream(self.target, self.endpoint, self.body)) as events:
                async for event in events:
                    yield event
            return
        # Not streamed: the upstream gets the request the client made (stream
        # off; best_of > 1 cannot be streamed at all), and the answer is
        # replayed as events so both paths are recorded the same way.
        try:
            response = await complete(self.target, self.endpoint, self.body)
        except UpstreamError as error:
            yield Meta()
            yield error.event()
            return
        replayed = list(events_from_response(self.endpoint, response))
        yield replayed[0]  # the Meta
        for notice in response.get("notices", ()):
            yield Notice(notice["message"], notice["field"])
        for event in replayed[1:]:
            yield event

    def _meta(self, upstream):
        # Our id names the Run, so a client's log line leads to its record.
        return Meta(
            id=f"{ID_PREFIX[self.endpoint]}-{self.run.uuid.hex}",
            model=self.asked,
            created=upstream.created or int(time.time()),
            system_fingerprint=upstream.system_fingerprint,
        )


