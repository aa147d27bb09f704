"""The playground pages. Thin: the run itself happens over the websocket
(consumers.py -> the run engine, apps/runs); these views render the form and
past results."""

import json
import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from apps.catalog import GROUPS, ValidationFailed, extras_of, fields_for, validate
from apps.history.models import Conversation, Run
from apps.history.render import result_context
from apps.inference.tokenize import count_prompt_tokens
from apps.providers.models import Model

GROUP_TITLES = {
    "sampling": "Sampling",
    "length": "Length",
    "penalties": "Penalties",
    "output": "Output",
    "advanced": "Advanced",
    "newer": "OpenAI's newer fields (beyond the seed documents)",
}
# Controls drawn in the main editor column rather than in a parameter group.
EDITOR_FIELDS = {"model", "prompt", "messages", "suffix"}
DEFAULT_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": ""},
]


@login_required
def chat(request):
    return playground(request, "chat")


@login_required
def completions(request):
    return playground(request, "completions")


@login_required
def conversation(request, uuid):
    # Someone else's conversation is a 404, exactly like a missing one.
    conv = get_object_or_404(Conversation, uuid=uuid, owner=request.user)
    return playground(request, conv.mode, conv)


def playground(request, mode, conv=None, form=None, title="", tool_mocks=None):
    """The playground page: a new one, a conversation to continue (`conv`), or
    a form to start from without a conversation yet (`form`, {"model": uuid,
    "body": {...}}: a preset, a past run), which the first Run will create.
    `tool_mocks`: saved tool results for the tool-call loop (a preset's)."""
    models = list(Model.objects.enabled().for_endpoint(mode).select_related("provider"))
    if conv is not None:
        form, title = conv.form, conv.title
    form = form or {}
    body = form.get("body") or {}
    if not body:
        # A new page: streaming on, like every playground.
        body = {"stream": True}
    selected = form.get("model") or str(
        getattr(Model.objects.for_endpoint(mode).default(), "uuid", "")
    )
    model_error = ""
    if form.get("model") and selected not in {str(m.uuid) for m in models}:
        # Say so rather than let the browser quietly pick another model.
        model_error = (
            f"The model this was made with is no longer available for {mode}; choose another."
        )
        selected = ""

    fields = fields_for(mode)
    groups = [
        (GROUP_TITLES[g], [f for f in fields if f.group == g and f.name not in EDITOR_FIELDS])
        for g in GROUPS
        if g in GROUP_TITLES
    ]
    last_run = conv.runs.order_by("-created").first() if conv else None
    # A run still going (the page was reloaded mid-stream, or opened in
    # another tab): the page subscribes to it and shows it as it streams.
    live_run = None
    if last_run is not None and last_run.status == Run.RUNNING:
        live_run, last_run = last_run, None
    context = {
        "mode": mode,
        # The nav marks the mode whichever url opened the page (a preset, a re-run).
        "section": mode,
        "models": models,
        "selected_model": selected,
        "model_error": model_error,
        "conversation": conv,
        "title": title,
        "initial": body,
        "groups": [(title, fs) for title, fs in groups if fs],
        # The parameter controls depend on the mode and these values only: the
        # page caches them rendered, per process ({% cache %} in the template;
        # they were most of the page's rendering time, bench/README.md).
        "params_key": json.dumps(
            {f.name: body.get(f.name) for _, fs in groups for f in fs},
            sort_keys=True, default=str,
        ),
        "suffix_field": next((f for f in fields if f.name == "suffix"), None),
        "prompts": _prompts(body),
        "prompt_is_tokens": _is_token_prompt(body.get("prompt")),
        "thread": (conv.thread() if conv else body.get("messages")) or DEFAULT_MESSAGES,
        "last_run": last_run,
        "live_run": live_run,
        "max_message_bytes": settings.PLAYGROUND_MAX_MESSAGE_BYTES,
        "last_result": result_context(last_run) if last_run else None,
        # The form adapts to the model (static/js/capabilities.js).
        "capabilities": {str(m.uuid): m.capabilities() for m in models},
        "extras": {k: body[k] for k in extras_of(mode, body)},
        "tool_mocks": tool_mocks or {},
    }
    return render(request, "studio/playground.html", context)


def _is_token_prompt(prompt):
    return isinstance(prompt, list) and bool(prompt) and not isinstance(prompt[0], str)


def _prompts(body):
    prompt = body.get("prompt", "")
    if _is_token_prompt(prompt):
        return [json.dumps(prompt)]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return prompt
    if isinstance(prompt, str):
        return [prompt]
    return [""]


@login_required
@require_POST
def token_count(request):
    """The prompt's token count for the page's counter: {"tokens": n}, or
    {"tokens": null} when the model's backend cannot tokenize (only the
    embedded model can) or the input cannot be counted yet."""
    try:
        data = json.loads(request.body)
        mode = {"chat": "chat", "completions": "completions"}[data["mode"]]
        model_uuid = uuid.UUID(str(data["model"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return JsonResponse({"tokens": None, "error": "send mode, model and the input as JSON"},
                            status=400)
    model = (
        Model.objects.enabled().for_endpoint(mode).select_related("provider")
        .filter(uuid=model_uuid).first()
    )
    if model is None:
        return JsonResponse({"tokens": None})
    try:
        target = model.target()
    except Exception:  # unreadable secrets: the run itself reports them
        return JsonResponse({"tokens": None})
    key = "messages" if mode == "chat" else "prompt"
    given = {key: data[key]} if data.get(key) is not None else {}
    try:
        # Only what the run itself would accept reaches the tokenizer.
        validate(mode, {"model": str(model.uuid), **given}, extras=False)
    except ValidationFailed:
        return JsonResponse({"tokens": None})
    return JsonResponse({"tokens": count_prompt_tokens(target, mode, given)})
