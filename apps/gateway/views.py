"""The OpenAI-compatible API (/v1) and the page where users manage their keys.

A call, start to end (`answer()`):

1. `api` checks the method and the key (auth.py) and turns any ApiError
   into OpenAI's error JSON (errors.py).
2. The body is parsed and validated by the catalogue, exactly as the
   playground's form is; the model is resolved to an enabled model serving
   the endpoint.
3. The run engine (apps/runs) makes the Run and drives it; this view watches
   its events, as the playground's websocket does.
4. Not streamed: the events are read to the end; the Assembly's response is
   the answer (a run stopped before its end is an error: errors.stopped).
   Streamed: events are read up to the first token, so a failure before any
   output still gets its HTTP status (429, 502, 504); then the rest streams
   as SSE (sse.py).

The views are async: daphne serves them on its event loop, and a client that
disconnects cancels the view's task, which closes the upstream request.
"""

import json
import re
from contextlib import aclosing
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from apps.catalog import PATHS, ValidationFailed, validate
from apps.htmx import is_htmx, partial_or_page
from apps.inference import Delta, Error, Finish, Usage
from apps.providers.models import Model
from apps.runs import cache, engine, specs
from apps.runs.engine import db
from apps.runs.protocol import Ended

from . import errors, limits, sse
from .auth import authenticate
from .errors import ApiError
from .forms import KeyForm, LimitsForm
from .models import GatewayKey

# ---- the API ------------------------------------------------------------------


def api(method):
    """An API view: CSRF-exempt (there is no cookie to forge), one method,
    a gateway key required; errors as OpenAI's JSON."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        async def wrapper(request, *args, **kwargs):
            try:
                if request.method != method:
                    raise ApiError(
                        405, f"Use {method} for {request.path}.", headers={"Allow": method}
                    )
                key = await authenticate(request)
                return await view(request, key, *args, **kwargs)
            except ApiError as error:
                return error.response()

        return wrapper

    return decorate


@csrf_exempt
async def unknown(request):
    """Any other /v1 path, any method: OpenAI's error JSON, before any key
    check (as OpenAI answers an unknown path)."""
    return errors.unknown_path(request.path).response()


@api("GET")
async def models(request, key):
    found = await db(list, Model.objects.enabled().select_related("provider"))
    return JsonResponse({"object": "list", "data": [model_object(m) for m in found]})


@api("GET")
async def model(request, key, name):
    found = await db(Model.objects.resolve, name)
    if found is None:
        raise not_found(name)
    return JsonResponse(model_object(found))


def model_object(model):
    return {
        "id": model.display_name,
        "object": "model",
        "created": int(model.provider.created.timestamp()),
        "owned_by": model.provider.name,
    }


@api("POST")
async def completions(request, key):
    return await answer(request, key, "completions")


@api("POST")
async def chat_completions(request, key):
    return await answer(request, key, "chat")


async def answer(request, key, endpoint):
    body = parse(request)
    try:
        body = validate(endpoint, body)
    except ValidationFailed as failed:
        raise errors.validation_failed(failed.errors) from None
    # Cached per process (apps/runs/cache.py): no database before the
    # upstream request once a model has been asked for.
    model = cache.MODELS.get(body["model"], request.cache_generation)
    if model is None:
        model = await db(cache.MODELS.fetch, body["model"], request.cache_generation)
    check_serves(model, body["model"], endpoint)
    try:
        spec = specs.for_gateway(key, model, endpoint, body)
    except specs.Refused as refused:  # the adapter's refusal: a 400, no Run
        raise errors.from_upstream(refused.error) from None
    if spec is None:
        raise ApiError(
            502,
            "The provider of this model is misconfigured (its key cannot be read); "
            "ask the administrators.",
            code="provider_unavailable",
        )
    spec.on_finish.append(lambda assembly: limits.record_tokens(key, _total_tokens(assembly)))

    # The run is the engine's; this view only watches it. A client that goes
    # away cancels this view, which detaches it and so ends the run.
    if not spec.streams:
        # Answered as soon as the outcome is known: the Run's write (one
        # INSERT, in a database thread) goes on behind the answer, off the
        # request's path (measured in bench/versus_bench.py).
        live = await engine.start_until_over(spec)
        if live.assembly.error:
            raise errors.from_upstream(live.assembly.error)
        if stopped := errors.stopped(live.over.result()):  # a part is not the answer
            raise stopped
        return _noted(JsonResponse(live.assembly.response()), live.assembly)

    live, events = await engine.start_watched(spec)

    # Hold the response until the first output (or a failure) so that a
    # request the upstream refuses gets a real status, not a 200 whose
    # stream says 429.
    head = []
    async for event in events:
        head.append(event)
        if isinstance(event, (Delta, Finish, Usage, Error, Ended)):
            break
    # Decided by what this view read, not by how far the run got since: an
    # error that arrived right behind the first token (in the same read from
    # the upstream) is a mid-stream error, after that token.
    if isinstance(head[-1], Ended) and (stopped := errors.stopped(head[-1].status)):
        await events.aclose()  # over: nothing streamed yet, so a real status
        raise stopped
    if isinstance(head[-1], (Error, Ended)) and live.assembly.error:
        async with aclosing(events):
            async for _ in events:  # over already; wait until it is stored
                pass
        raise errors.from_upstream(live.assembly.error)
    include_usage = (body.get("stream_options") or {}).get("include_usage")
    response = sse.EventStream(endpoint, include_usage, head, events)
    return _noted(response, live.assembly)  # the notices come before the first token


# The body fields the model or its provider does not take, so they were not
# sent (the Run's notices): a caller's seed or logit_bias that silently did
# nothing would be a surprise found only in Playground's history.
DROPPED_HEADER = "X-Playground-Dropped-Fields"
# Under a provider's "drop unknown fields" policy a name is the caller's own
# key: only plain names go in the header (no CR/LF, comma or control
# character), and only so many, so that it stays one short, valid header.
HEADER_FIELD = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
HEADER_FIELDS_MAX = 20


def _noted(response, assembly):
    dropped = list(dict.fromkeys(n["field"] for n in assembly.notices if n.get("field")))
    if dropped:
        named = [f for f in dropped if HEADER_FIELD.fullmatch(f)][:HEADER_FIELDS_MAX]
        if len(named) < len(dropped):
            named.append("...")  # more, or names not fit for a header: the history has them
        response[DROPPED_HEADER] = ", ".join(named)
    return response


def _total_tokens(assembly):
    return assembly.usage.total_tokens if assembly.usage else None


def parse(request):
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(
            413,
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
            code="request_too_large",
        ) from None
    try:
        # NaN and Infinity are not JSON, whatever Python's parser accepts.
        body = json.loads(raw, parse_constant=_not_json)
    except (ValueError, RecursionError):
        # A form or multipart post included: the API takes JSON only.
        raise errors.invalid_body() from None
    if not isinstance(body, dict):
        raise errors.invalid_body()
    return body


def _not_json(name):
    raise ValueError(f"{name} is not JSON")


def check_serves(model, name, endpoint):
    if model is None:
        raise not_found(name)
    if not getattr(model, f"serves_{endpoint}"):
        other = PATHS["chat" if endpoint == "completions" else "completions"]
        raise ApiError(
            400,
            f"The model {_quoted(name)} does not serve {PATHS[endpoint]}; try {other}.",
            param="model",
            code="model_not_supported",
        )
    return model


def not_found(name):
    return ApiError(
        404,
        f"The model {_quoted(name)} does not exist or is not enabled here; "
        "GET /v1/models lists the models you can use.",
        param="model",
        code="model_not_found",
    )


def _quoted(name):
    return f"'{name[:100]}…'" if len(name) > 100 else f"'{name}'"


# ---- the keys page ------------------------------------------------------------


def _key_rows(user):
    owned = list(GatewayKey.objects.for_user(user))
    usage = limits.usage(owned)
    return [(key, usage[key.uuid]) for key in owned]


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def keys(request):
    """List the user's keys with their usage; POST creates one and shows its
    secret, once. The create form is a Django form (forms.py) posted with
    htmx: refused, it comes back with its errors beside its fields; created,
    the secret and the updated list come with it."""
    form = KeyForm(request.POST if request.method == "POST" else None)
    secret = None
    if form.is_valid():
        _, secret = GatewayKey.create(request.user, **form.cleaned_data)
        form = KeyForm()
    context = {
        "form": form,
        "keys": _key_rows(request.user),
        "secret": secret,
        "api_base": request.build_absolute_uri("/v1"),
    }
    if is_htmx(request) and request.method == "POST":
        response = render(request, "gateway/_key_created.html" if secret else
                          "gateway/_key_form.html", context, status=200 if secret else 400)
    else:
        response = render(request, "gateway/keys.html", context)
    # The secret is rendered in the POST's answer, never stored anywhere to
    # show later. htmx swaps it into the GET page, so that page must not be
    # kept either (never_cache: no-store on every answer), or Back shows it.
    return response


@login_required
@require_http_methods(["GET", "POST"])
def key_limits(request, uuid):
    """A key's limits: a dialog on the keys page (htmx) or a page of its own."""
    key = get_object_or_404(GatewayKey, uuid=uuid, owner=request.user)
    form = LimitsForm(request.POST if request.method == "POST" else None, instance=key)
    if form.is_valid():
        form.save()
        notice = f"Saved the limits of {key.prefix}… ({key.name})."
        if is_htmx(request):
            # Close the dialog; the list shows the new limits.
            return render(request, "gateway/_limits_saved.html",
                          {"keys": _key_rows(request.user), "notice": notice})
        messages.success(request, notice)
        return redirect("gateway:keys")
    # A refused dialog is a 400 that htmx swaps in (static/js/layout.js); the
    # page without htmx answers 200 as before.
    status = 400 if request.method == "POST" and is_htmx(request) else 200
    return partial_or_page(request, "gateway/_limits_dialog.html", "gateway/key_limits.html",
                           {"key": key, "form": form}, status=status)


@login_required
@require_POST
def revoke(request, uuid):
    key = get_object_or_404(GatewayKey, uuid=uuid, owner=request.user)
    key.revoke()
    messages.success(request, f"Revoked {key.prefix}… ({key.name}). Scripts using it now get 401.")
    return redirect("gateway:keys")
