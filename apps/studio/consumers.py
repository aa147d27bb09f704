"""The playground's websocket: one per page, carrying any number of runs.

Browser -> server:
    {"type": "run", "ref"?, "mode", "model", "conversation", "body", "source"?}
        or {"type": "run", "runs": [{"ref", "mode", ...}, ...]}: start runs
    {"type": "subscribe", "run", "after"?}: watch a run (a reload, another
        tab, a reconnect) from the last sequence number seen
    {"type": "stop", "run"?}: stop one run (without "run": every run this
        socket watches)
Server -> browser (every message but "errors" names its run and its seq):
    {"type": "errors", "ref"?, "run"?, "errors": [{field, message}]}
    {"type": "started", "run", "ref"?, "conversation"}
    {"type": "delta" | "finish" | "usage" | "notice" | "error" | "meta", ...}
    {"type": "done", "run", "seq", "status", "html", "reply"?}

The run itself is the engine's (apps/runs): this consumer only turns
messages into engine calls and events into messages. The page inserts every
text as text; only "html" (rendered server-side, sanitized) is markup.
"""

import asyncio
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.template.loader import render_to_string

from apps.history.models import Run
from apps.history.render import result_context
from apps.runs import engine, specs
from apps.runs.engine import Subscriber
from apps.runs.protocol import Ended, message

log = logging.getLogger(__name__)

# A page starts a handful of runs at once (compare: up to 6 panes).
MAX_RUNS_PER_MESSAGE = 16
# What a page may say started a run ("source" in a run request), for history.
PAGE_SOURCES = {"playground", "compare"}


def error(text, field=None, **extra):
    return {"type": "errors", **extra, "errors": [{"field": field, "message": text}]}


class RunConsumer(AsyncWebsocketConsumer):
    # No channel of its own on the channel layer: nothing is ever sent to a
    # socket through it (runs reach their subscribers through the engine, and
    # other processes through the engine's hub), so no blocking Redis pop per
    # open page, and none to cancel when the page goes.
    channel_layer_alias = None

    async def connect(self):
        self.watching = {}  # run uuid -> Subscriber
        self.tasks = set()  # subscriptions being set up
        if not self.scope["user"].is_authenticated:
            # Accepted, then closed with a code of its own: a handshake
            # refused outright reaches the page as 1006, like a network
            # error, and the page would retry for ever instead of saying
            # that the user is signed out.
            await self.accept()
            await self.close(code=4401)
            return
        await self.accept()

    async def disconnect(self, code):
        # The page went away: its runs go on for the grace period (a reload
        # picks them up), then are kept as interrupted.
        for task in self.tasks:
            task.cancel()
        for run_uuid, subscriber in self.watching.items():
            engine.detach(run_uuid, subscriber)
        self.watching = {}

    async def send_json(self, content):
        await self.send(text_data=json.dumps(content))

    async def receive(self, text_data=None, bytes_data=None):
        # A bad frame gets an answer saying what is wrong; the socket stays.
        if text_data is None:
            await self.send_json(error("send JSON text frames, not binary ones"))
            return
        if len(text_data) > settings.PLAYGROUND_MAX_MESSAGE_BYTES:
            await self.send_json(error(
                f"the message is larger than {settings.PLAYGROUND_MAX_MESSAGE_BYTES} bytes"
            ))
            return
        try:
            content = json.loads(text_data)
        except RecursionError:
            await self.send_json(error("the message is nested too deeply"))
            return
        except ValueError as e:
            await self.send_json(error(f"the message is not JSON ({e})"))
            return
        if not isinstance(content, dict):
            await self.send_json(error("the message must be a JSON object", "type"))
            return
        kind = content.get("type")
        if kind == "run":
            await self.start(content)
        elif kind == "subscribe":
            await self.subscribe(content)
        elif kind == "stop":
            await self.stop(content)
        else:
            await self.send_json(error("type must be run, subscribe or stop", "type"))

    # -- run ---------------------------------------------------------------------

    async def start(self, content):
        requests = content.get("runs", [content])
        if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_RUNS_PER_MESSAGE:
            await self.send_json(error(f"runs must be a list of 1 to {MAX_RUNS_PER_MESSAGE} runs",
                                       "runs"))
            return
        # Side by side: each run is validated and started as soon as it is
        # ready, not behind the others (compare's panes start together).
        await asyncio.gather(
            *(self.start_one(r if isinstance(r, dict) else {}) for r in requests)
        )

    async def start_one(self, request):
        ref = {"ref": request["ref"]} if "ref" in request else {}
        user = self.scope["user"]
        try:
            spec = await engine.db(specs.from_page, user, request)
            if request.get("source") in PAGE_SOURCES:
                spec.source = request["source"]
        except specs.Refused as e:
            await self.send_json({"type": "errors", **ref, "errors": e.errors})
            return
        except Exception:
            # A bug must cost one run, not the socket.
            log.exception("preparing a run failed")
            await self.send_json(error("internal error: the run was not started", **ref))
            return
        subscriber = self.subscriber()
        # "started" goes out before any event of the run: hold the
        # subscriber's lock until it is sent.
        async with subscriber.lock:
            live = await engine.start(spec, subscriber)
            self.watching[live.uuid] = subscriber
            subscriber.run = live.uuid
            await self.send_json({"type": "started", "run": live.uuid, **ref,
                                  "conversation": str(spec.conversation.uuid)})

    # -- subscribe / stop ----------------------------------------------------------

    async def subscribe(self, content):
        run_uuid, after = str(content.get("run")), content.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            await self.send_json(error("after must be a whole number ≥ 0", "after", run=run_uuid))
            return
        if run_uuid in self.watching:
            return  # already watching it on this socket
        subscriber = self.subscriber()
        subscriber.run = run_uuid
        self.watching[run_uuid] = subscriber
        # In a task of its own: finding a run in another process may take a
        # moment, and this socket's other messages (Stop) must not wait.
        task = asyncio.create_task(self._subscribe(run_uuid, subscriber, after))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _subscribe(self, run_uuid, subscriber, after):
        try:
            await engine.subscribe(self.scope["user"], run_uuid, subscriber, after)
        except engine.NotFound:
            self.watching.pop(run_uuid, None)
            await self.send_json(error("run not found", "run", run=run_uuid))

    async def stop(self, content):
        runs = [str(content["run"])] if content.get("run") else list(self.watching)
        for run_uuid in runs:
            await engine.stop(self.scope["user"], run_uuid)

    # -- events out --------------------------------------------------------------

    def subscriber(self):
        async def send(seq, event):
            run_uuid = subscriber.run
            if isinstance(event, Ended):
                self.watching.pop(run_uuid, None)
                await self.send_json(await self.done(run_uuid, seq, event))
            else:
                await self.send_json(message(run_uuid, seq, event))

        subscriber = Subscriber(send)
        return subscriber

    async def done(self, run_uuid, seq, ended):
        return await database_sync_to_async(_done_message)(run_uuid, seq, ended)


def _done_message(run_uuid, seq, ended):
    done = message(run_uuid, seq, ended)
    run = Run.objects.select_related("model__provider").filter(uuid=run_uuid).first()
    if run is None:
        return done
    done["html"] = render_to_string("history/_result.html", result_context(run))
    if run.endpoint == "chat" and run.status == Run.COMPLETED and run.response["choices"]:
        # The reply as a message, for the page's editor to append.
        done["reply"] = run.response["choices"][0]["message"]
    return done
