"""One playground run, from a websocket message to a stored Run.

`prepare()` validates the message and resolves the model (database reads
only) and builds the unsaved Conversation and Run; `execute()` saves them
while the upstream request is already on its way, streams the adapter's
events to a callback and stores the outcome. Writing the run first would put
a database commit (tens of ms on SQLite, a queue behind other runs' writes)
between Run and the first token.
"""

import asyncio
import uuid
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from apps.catalog import ValidationFailed, validate
from apps.history.assemble import Assembly, events_from_response, prompt_text
from apps.history.models import Conversation, Run
from apps.inference import UpstreamError, complete, stream
from apps.inference.client import prepare as prepare_wire_body
from apps.inference.events import Error
from apps.providers.crypto import SecretUnreadable
from apps.providers.models import Model

MODES = ("completions", "chat")


class Refused(Exception):
    """The message cannot start a run; `errors` are [{field, message}]."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


@dataclass
class Prepared:
    run: Run  # unsaved until record() has run
    target: object
    endpoint: str
    body: dict
    # Storing the outcome; set when the run ends. Whoever reports the end
    # awaits it first, so the page never shows a run still "running".
    finished: asyncio.Future | None = None


def prepare(user, message):
    """Validate a run request from the page and build its (unsaved) Run.

    message: {"mode", "model" (model uuid), "conversation" (uuid or null),
    "body" (every set field but model, JSON-typed)}.
    """
    mode = message.get("mode")
    if mode not in MODES:
        raise Refused([{"field": "mode", "message": "mode must be completions or chat"}])
    model = (
        Model.objects.enabled()
        .for_endpoint(mode)
        .select_related("provider")
        .filter(uuid=_uuid(message.get("model")))
        .first()
    )
    if model is None:
        raise Refused([{"field": "model", "message": "choose a model that serves " + mode}])
    form_body = message.get("body")
    if not isinstance(form_body, dict):
        raise Refused([{"field": "body", "message": "body must be an object"}])
    try:
        # The playground streams unless told not to: validate what will be
        # sent, so stream-only rules (best_of, stream_options) judge the same
        # request the upstream receives.
        body = validate(mode, {"stream": True, **form_body, "model": model.upstream_id})
    except ValidationFailed as e:
        raise Refused([{"field": err.field, "message": err.message} for err in e.errors]) from None

    try:
        target = model.target()
    except SecretUnreadable:
        raise Refused(
            [{"field": "model", "message": "this model's provider cannot be reached: its API key "
              "cannot be decrypted; ask an administrator"}]
        ) from None
    sent = wire_body(target, mode, body)

    conversation = _conversation(user, mode, message.get("conversation"))
    conversation.form = {"model": str(model.uuid), "body": form_body}
    conversation.updated = timezone.now()
    if not conversation.title:
        conversation.title = _title(mode, body)
    run = Run(
        owner=user,
        conversation=conversation,
        endpoint=mode,
        model=model,
        model_name=model.display_name or model.upstream_id,
        provider_name=model.provider.name,
        request=sent,
        prompt_text=prompt_text(mode, body),
    )
    return Prepared(run=run, target=target, endpoint=mode, body=body)


def record(prepared):
    """Save the conversation (and, for chat, its thread as sent) and the run."""
    run = prepared.run
    with transaction.atomic():
        run.conversation.save()
        if prepared.endpoint == "chat":
            run.conversation.set_messages(prepared.body["messages"])
        run.save()


def wire_body(target, endpoint, body):
    """What a playground run of this clean body sends upstream, and so records
    as its request: minus the fields the model does not accept, plus the
    adapter's stream settings. ("View code" shows the same.)"""
    sent, _ = prepare_wire_body(target, endpoint, body, stream=_streams(body))
    return sent


def _streams(body):
    # The playground streams unless the user turned streaming off.
    return body.get("stream", True) is not False


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _conversation(user, mode, conversation_uuid):
    if not conversation_uuid:
        return Conversation(owner=user, mode=mode)
    # Someone else's conversation is as absent as one that never existed.
    conversation = Conversation.objects.filter(
        uuid=_uuid(conversation_uuid), owner=user, mode=mode
    ).first()
    if conversation is None:
        raise Refused([{"field": "conversation", "message": "conversation not found"}])
    return conversation


def _title(mode, body):
    text = " ".join(prompt_text(mode, body).split())
    return text[:80] or "Untitled"


async def events(prepared):
    """The adapter's events for a prepared run; a non-streaming request is
    asked with complete() and replayed as events, so the page shows one path."""
    if _streams(prepared.body):
        async for event in stream(prepared.target, prepared.endpoint, prepared.body):
            yield event
        return
    try:
        response = await complete(prepared.target, prepared.endpoint, prepared.body)
    except UpstreamError as e:
        yield Error(message=e.message, code=e.code, status=e.status)
        return
    for event in events_from_response(prepared.endpoint, response):
        yield event


async def execute(prepared, send, stopped_status):
    """Relay the run's events to `send` and store the outcome.

    `stopped_status()` tells, when the task is cancelled, whether the user
    pressed Stop (cancelled) or went away (interrupted). Whatever arrived is
    stored in every case: nothing is dropped, nothing is called complete that
    was not.
    """
    assembly = Assembly(prepared.endpoint)
    status = Run.COMPLETED
    # A task of its own: it completes even if this one is cancelled.
    recorded = asyncio.ensure_future(database_sync_to_async(record)(prepared))
    try:
        async for event in events(prepared):
            assembly.add(event)
            if isinstance(event, Error):
                status = Run.FAILED
            await send(event)
    except asyncio.CancelledError:
        status = stopped_status()
        raise
    except Exception as e:  # a bug must not leave a run "running" forever
        status = Run.FAILED
        assembly.add(Error(message=f"internal error: {type(e).__name__}", code="internal"))
        raise
    finally:
        assembly.end()
        # A task of its own, awaited shielded: the save must finish even though
        # this task is being cancelled.
        prepared.finished = asyncio.ensure_future(
            _finish(recorded, prepared.run, status, assembly)
        )
        await asyncio.shield(prepared.finished)
    return assembly


async def _finish(recorded, run, status, assembly):
    await recorded
    await database_sync_to_async(run.finish)(status, assembly, assembly.error)
    if run.endpoint == "chat" and status == Run.COMPLETED and assembly.choices:
        await database_sync_to_async(_append_reply)(run, assembly)


def _append_reply(run, assembly):
    # The first choice joins the thread, so the user can go on from it.
    reply = assembly.choices[min(assembly.choices)].as_chat()["message"]
    run.conversation.append_message(reply, run=run)
