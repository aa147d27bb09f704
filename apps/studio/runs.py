"""One playground run, from a websocket message to a stored Run.

`prepare()` is sync database work (validate, resolve, create the Run);
`execute()` streams the adapter's events to a callback and stores the outcome.
The consumer and the tests both drive runs through these two functions.
"""

import asyncio
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from apps.catalog import ValidationFailed, validate
from apps.history.assemble import Assembly
from apps.history.models import Conversation, Run
from apps.inference import complete, stream
from apps.inference.events import Delta, Error, Finish, Meta, Usage
from apps.providers.models import Model

MODES = ("completions", "chat")


class Refused(Exception):
    """The message cannot start a run; `errors` are [{field, message}]."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


@dataclass
class Prepared:
    run: Run
    target: object
    endpoint: str
    body: dict


def prepare(user, message):
    """Validate a run request from the page and create its Run.

    message: {"mode", "model" (model uuid), "conversation" (uuid or null),
    "body" (every set field but model, JSON-typed)}.
    """
    mode = message.get("mode")
    if mode not in MODES:
        raise Refused([{"field": "mode", "message": "mode must be completions or chat"}])
    model = Model.objects.enabled().for_endpoint(mode).filter(uuid=_uuid(message.get("model"))).first()
    if model is None:
        raise Refused([{"field": "model", "message": "choose a model that serves " + mode}])
    form_body = message.get("body")
    if not isinstance(form_body, dict):
        raise Refused([{"field": "body", "message": "body must be an object"}])
    try:
        body = validate(mode, {**form_body, "model": model.upstream_id})
    except ValidationFailed as e:
        raise Refused([{"field": err.field, "message": err.message} for err in e.errors]) from None

    with transaction.atomic():
        conversation = _conversation(user, mode, message.get("conversation"))
        conversation.form = {"model": str(model.uuid), "body": form_body}
        conversation.updated = timezone.now()
        if not conversation.title:
            conversation.title = _title(mode, body)
        conversation.save()
        if mode == "chat":
            conversation.set_messages(body["messages"])
        run = Run.objects.create(
            owner=user,
            conversation=conversation,
            endpoint=mode,
            model=model,
            model_name=model.display_name or model.upstream_id,
            provider_name=model.provider.name,
            request=body,
            prompt_text=_prompt_text(mode, body),
        )
    return Prepared(run=run, target=model.target(), endpoint=mode, body=body)


def _uuid(value):
    import uuid

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


def _prompt_text(mode, body):
    if mode == "completions":
        prompt = body["prompt"]
        if isinstance(prompt, str):
            return prompt
        return "\n\n".join(p for p in prompt if isinstance(p, str))
    parts = []
    for m in body["messages"]:
        content = m.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(b.get("text", "") for b in content if isinstance(b, dict))
    return "\n\n".join(parts)


def _title(mode, body):
    text = " ".join(_prompt_text(mode, body).split())
    return text[:80] or "Untitled"


async def events(prepared):
    """The adapter's events for a prepared run; a non-streaming request is
    asked with complete() and replayed as events, so the page shows one path."""
    if prepared.body.get("stream", False) or "stream" not in prepared.body:
        async for event in stream(prepared.target, prepared.endpoint, prepared.body):
            yield event
        return
    from apps.inference import UpstreamError

    try:
        response = await complete(prepared.target, prepared.endpoint, prepared.body)
    except UpstreamError as e:
        yield Error(message=e.message, code=e.code, status=e.status)
        return
    for event in events_from_response(prepared.endpoint, response):
        yield event


def events_from_response(endpoint, response):
    yield Meta(
        id=response.get("id"),
        model=response.get("model"),
        created=response.get("created"),
        system_fingerprint=response.get("system_fingerprint"),
    )
    for choice in response.get("choices", []):
        index = choice.get("index", 0)
        if endpoint == "completions":
            yield Delta(index=index, text=choice.get("text") or "", logprobs=choice.get("logprobs"))
        else:
            message = choice.get("message") or {}
            yield Delta(
                index=index,
                role=message.get("role"),
                text=message.get("content") or "",
                tool_calls=[dict(c, index=i) for i, c in enumerate(message.get("tool_calls") or [])]
                or None,
                logprobs=choice.get("logprobs"),
            )
        yield Finish(index=index, reason=choice.get("finish_reason"))
    usage = response.get("usage")
    if usage:
        yield Usage(
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            total_tokens=usage.get("total_tokens", 0),
            raw=usage,
        )


async def execute(prepared, send, stopped_status):
    """Relay the run's events to `send` and store the outcome.

    `stopped_status()` tells, when the task is cancelled, whether the user
    pressed Stop (cancelled) or went away (interrupted). Whatever arrived is
    stored in every case: nothing is dropped, nothing is called complete that
    was not.
    """
    assembly = Assembly(prepared.endpoint)
    status = Run.COMPLETED
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
        # Shielded: the save must finish even though this task is being cancelled.
        await asyncio.shield(_finish(prepared.run, status, assembly))
    return assembly


async def _finish(run, status, assembly):
    await database_sync_to_async(run.finish)(status, assembly, assembly.error)
    if run.endpoint == "chat" and status == Run.COMPLETED and assembly.choices:
        await database_sync_to_async(_append_reply)(run, assembly)


def _append_reply(run, assembly):
    # The first choice joins the thread, so the user can go on from it.
    reply = assembly.choices[min(assembly.choices)].as_chat()["message"]
    run.conversation.append_message(reply, run=run)
