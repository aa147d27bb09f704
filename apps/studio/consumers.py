"""The playground's websocket: run requests in, events out.

Browser -> server: {"type": "run", "mode", "model", "conversation", "body"}
                   {"type": "stop"}
Server -> browser: {"type": "errors", "errors": [{field, message}]}
                   {"type": "started", "run", "conversation"}
                   {"type": "delta", "index", "text", "role"?, "tool_calls"?, "logprobs"?}
                   {"type": "finish", "index", "reason"}
                   {"type": "usage", ...}, {"type": "notice", "field", "message"}
                   {"type": "error", "message", "code"}
                   {"type": "done", "run", "status", "html"}

One run at a time per socket. The page inserts every text as text; only the
final "html" (rendered server-side, sanitized) is inserted as markup.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.template.loader import render_to_string

from apps.history.models import Run
from apps.inference.events import Delta, Error, Finish, Meta, Notice, Usage

from . import runs
from .render import result_context

log = logging.getLogger(__name__)


def event_message(event):
    if isinstance(event, Delta):
        message = {"type": "delta", "index": event.index, "text": event.text}
        if event.role:
            message["role"] = event.role
        if event.tool_calls:
            message["tool_calls"] = event.tool_calls
        if event.logprobs:
            message["logprobs"] = event.logprobs
        return message
    if isinstance(event, Finish):
        return {"type": "finish", "index": event.index, "reason": event.reason}
    if isinstance(event, Usage):
        return {
            "type": "usage",
            "prompt_tokens": event.prompt_tokens,
            "completion_tokens": event.completion_tokens,
            "total_tokens": event.total_tokens,
        }
    if isinstance(event, Notice):
        return {"type": "notice", "field": event.field, "message": event.message}
    if isinstance(event, Error):
        return {"type": "error", "message": event.message, "code": event.code}
    if isinstance(event, Meta):
        return {"type": "meta", "model": event.model, "id": event.id}
    raise TypeError(event)


class RunConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.task = None
        self.prepared = None
        self.stopping = False
        if not self.scope["user"].is_authenticated:
            await self.close(code=4401)
            return
        await self.accept()

    async def disconnect(self, code):
        # The browser went away: keep what arrived, as interrupted.
        await self.cancel()

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "run":
            await self.start(content)
        elif kind == "stop":
            self.stopping = True
            await self.cancel()
        else:
            await self.send_json(
                {
                    "type": "errors",
                    "errors": [{"field": "type", "message": "type must be run or stop"}],
                }
            )

    async def start(self, content):
        if self.task and not self.task.done():
            await self.send_json(
                {
                    "type": "errors",
                    "errors": [
                        {"field": None, "message": "a run is already streaming; stop it first"}
                    ],
                }
            )
            return
        try:
            prepared = await database_sync_to_async(runs.prepare)(self.scope["user"], content)
        except runs.Refused as e:
            await self.send_json({"type": "errors", "errors": e.errors})
            return
        except Exception:
            # A bug must cost one run, not the socket (the page would think a
            # run it never started was lost).
            log.exception("preparing a run failed")
            await self.send_json(
                {"type": "errors", "errors": [{"field": None, "message": "internal error: the "
                                               "run was not started"}]}
            )
            return
        self.stopping = False
        self.prepared = prepared
        await self.send_json(
            {
                "type": "started",
                "run": str(prepared.run.uuid),
                "conversation": str(prepared.run.conversation.uuid),
            }
        )
        self.task = asyncio.create_task(self.relay(prepared))

    async def relay(self, prepared):
        async def send(event):
            await self.send_json(event_message(event))

        def stopped_status():
            return Run.CANCELLED if self.stopping else Run.INTERRUPTED

        try:
            await runs.execute(prepared, send, stopped_status)
        except asyncio.CancelledError:
            if self.stopping:
                await self.send_done(prepared)
            raise
        except Exception:
            log.exception("run %s failed", prepared.run.uuid)
            await self.send_done(prepared)
            return
        await self.send_done(prepared)

    async def send_done(self, prepared):
        if prepared.finished is not None:
            await asyncio.shield(prepared.finished)
        run = prepared.run
        html = await database_sync_to_async(render_to_string)(
            "studio/_result.html", result_context(run)
        )
        message = {"type": "done", "run": str(run.uuid), "status": run.status, "html": html}
        if run.endpoint == "chat" and run.status == Run.COMPLETED and run.response["choices"]:
            # The reply as a message, for the page's editor to append.
            message["reply"] = run.response["choices"][0]["message"]
        await self.send_json(message)

    async def cancel(self):
        task, self.task = self.task, None
        if task and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
