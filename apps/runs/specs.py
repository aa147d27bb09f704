"""What a caller asks for, validated and resolved into an engine Spec.

Both are sync (database reads only): call them in a thread from async code.
Validation is the catalogue's, the same for the page and the gateway.
"""

import uuid

from django.conf import settings
from django.utils import timezone

from apps.catalog import ValidationFailed, validate
from apps.catalog.templating import MissingVariable, render_body
from apps.history.assemble import prompt_text
from apps.history.models import Conversation
from apps.inference import UpstreamError
from apps.inference.client import check
from apps.providers.crypto import SecretUnreadable

from . import cache
from .engine import END, GRACE, Spec

MODES = ("completions", "chat")


class Refused(Exception):
    """The request cannot start a run; `errors` are [{field, message}].
    `error`: the adapter's UpstreamError, when it is the adapter's refusal."""

    def __init__(self, errors, error=None):
        super().__init__(errors)
        self.errors = errors
        self.error = error


def from_page(user, message):
    """A run request from the playground page:
    {"mode", "model" (model uuid), "conversation" (uuid or null), "body"
    (every set field but model, JSON-typed)}. Raises Refused."""
    mode = message.get("mode")
    if mode not in MODES:
        raise Refused([{"field": "mode", "message": "mode must be completions or chat"}])
    model = cache.page_model(_uuid(message.get("model")), mode)  # cached per process
    if model is None:
        raise Refused([{"field": "model", "message": "choose a model that serves " + mode}])
    form_body = message.get("body")
    if not isinstance(form_body, dict):
        raise Refused([{"field": "body", "message": "body must be an object"}])
    template = _template(form_body, message.get("variables"))
    # _template has rendered it once already: no variable is missing.
    sent = render_body(form_body, template["variables"]) if template else form_body
    body, target = _runnable(model, mode, sent)

    conversation = _conversation(user, mode, message.get("conversation"))
    conversation.form = {"model": str(model.uuid), "body": form_body}
    if template:
        conversation.form["variables"] = template["variables"]
    conversation.updated = timezone.now()
    if not conversation.title:
        conversation.title = " ".join(prompt_text(mode, body).split())[:80] or "Untitled"
    return Spec(
        owner=user,
        endpoint=mode,
        model=model,
        target=target,
        body=body,
        streams=body.get("stream", True) is not False,
        conversation=conversation,
        # A template's thread is kept as written, so a reload or the next
        # round shows (and renders) its {{variables}} again.
        thread=(template["body"]["messages"] if template else body["messages"])
        if mode == "chat" else None,
        on_detach=GRACE,
        template=template,
    )


def _template(form_body, variables):
    """{"body", "variables"} when the page sent values for a template (the
    body is then rendered with them); None for a plain run. Raises Refused
    naming a missing variable."""
    if variables is None:
        return None
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise Refused([{"field": "variables",
                        "message": "variables must be an object of names to text"}])
    try:
        render_body(form_body, variables)
    except MissingVariable as e:
        raise Refused([{"field": "variables", "message": e.message}]) from None
    return {"body": form_body, "variables": variables}


def for_batch(user, model, mode, body, template=None):
    """One cell of an evaluation batch: `body` rendered, without model.
    Raises Refused (as the page's runs do)."""
    body, target = _runnable(model, mode, body)
    return Spec(owner=user, endpoint=mode, model=model, target=target, body=body,
                streams=body.get("stream", True) is not False, source="evals",
                template=template)


def _runnable(model, mode, body):
    """(validated body, target) for a page or batch run of `body` on `model`,
    or Refused naming the field. The playground streams unless told not to:
    validate what will be sent, so stream-only rules (best_of,
    stream_options) judge the same request the upstream receives."""
    try:
        body = validate(mode, {"stream": True, **body, "model": model.upstream_id})
    except ValidationFailed as e:
        raise Refused([{"field": err.field, "message": err.message} for err in e.errors]) from None
    target = _target(model)
    if target is None:
        raise Refused([{"field": "model", "message": "this model's provider cannot be reached: "
                        "its API key cannot be decrypted; ask an administrator"}])
    _check(target, mode, body)
    return body, target


def _check(target, mode, body):
    """The adapter's refusal of what the model or its provider will not take
    (extras under the "refuse" policy, what the embedded model cannot do),
    heard before any Run exists: the page at once next to the field, the
    gateway as a 400 naming it. One check, so one message for both."""
    try:
        check(target, mode, body)
    except UpstreamError as e:
        raise Refused([{"field": e.param or "body", "message": e.message}], e) from None


def for_gateway(key, model, endpoint, body):
    """A /v1 call with a valid key, a catalogue-clean body and its resolved
    model. Returns None if the provider's key cannot be decrypted; raises
    Refused (with its `error`) for what the adapter would refuse."""
    target = _target(model)
    if target is None:
        return None
    _check(target, endpoint, body)
    streams = body.get("stream") is True
    return Spec(
        owner=key.owner,
        endpoint=endpoint,
        model=model,
        target=target,
        body=body,
        streams=streams,
        source="gateway",
        key_prefix=key.prefix,
        public_model=body["model"],
        on_detach=END,
        before_record=[key.touch],
        # A plain call's first save waits for its answer, one checkpoint
        # interval at most: most calls are then stored by one write (the two
        # were a third of a call's cost). A killed process may lose the
        # record of a call younger than that; daphne's clean stop stores it
        # (playground/asgi.py).
        hold_first_save=0.0 if streams else settings.RUN_CHECKPOINT_SECONDS,
    )


def _target(model):
    try:
        return model.target()
    except SecretUnreadable:
        return None


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
