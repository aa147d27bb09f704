"""Compare's pages. Thin: the runs themselves go over the playground's
websocket (one socket, one run per pane); these views render the page, keep
each finished round, diff two outputs and show read-only snapshots.

Someone else's comparison or run is a 404 (`get_own_comparison`); a snapshot
link is read by its token only, by anyone signed in."""

import json
import re

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.catalog import fields_for
from apps.history.diff import choice_text, diff_context
from apps.history.models import Run
from apps.history.render import result_context
from apps.inference.local import untranslate
from apps.providers.models import Model

from .forms import RoundForm, VoteForm
from .models import MAX_PANES, MIN_PANES, Comparison, RunSnapshot, Vote

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
MODES = ("chat", "completions")
# Drawn once for all panes (the shared input), not per pane.
SHARED_FIELDS = {"model", "prompt", "messages"}
# Drawn with the playground's own controls (templates/shared/_control.html);
# the structured kinds (stop, tools, response_format, ...) are JSON boxes here.
SIMPLE_KINDS = {"number", "integer", "boolean", "string", "enum"}
DEFAULT_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": ""},
]


def get_own_comparison(user, uuid):
    """A comparison of this user's, or 404."""
    return get_object_or_404(Comparison, uuid=uuid, owner=user)


def get_own_run(user, uuid):
    return get_object_or_404(Run.objects.select_related("model__provider"), uuid=uuid, owner=user)


def get_shared(queryset, token):
    if not TOKEN.fullmatch(token):
        raise Http404
    return get_object_or_404(queryset, share_token=token)


# -- the compare page ------------------------------------------------------------------


@login_required
@require_GET
def new(request):
    """A new comparison; ?mode=completions for completions. With ?model and
    ?body (JSON), as "Open in compare" on a preset sends: two panes with
    that model and those parameters."""
    mode = request.GET.get("mode") if request.GET.get("mode") in MODES else "chat"
    start = None
    if request.GET.get("body") is not None:
        try:
            body = json.loads(request.GET["body"] or "{}")
        except ValueError:
            body = None
        if isinstance(body, dict):
            start = {"model": request.GET.get("model", ""), "body": body}
    return compare_page(request, mode, start=start)


@login_required
@require_GET
def from_run(request, uuid):
    """A new comparison starting from a past run: its input, and two panes
    with its model and parameters."""
    run = get_own_run(request.user, uuid)
    model = run.model or Model.objects.resolve(run.model_name)
    body = {k: v for k, v in untranslate(run.request).items() if k != "model"}
    return compare_page(request, run.endpoint,
                        start={"model": str(model.uuid) if model else "", "body": body})


@login_required
@require_GET
def detail(request, uuid):
    comparison = get_own_comparison(request.user, uuid)
    return compare_page(request, comparison.mode, comparison=comparison)


def compare_page(request, mode, comparison=None, start=None):
    models = list(Model.objects.enabled().for_endpoint(mode).select_related("provider"))
    known = {str(m.uuid) for m in models}
    if comparison is not None:
        panes, shared = comparison.panes, comparison.shared_input
        results = _pane_results(comparison)
    else:
        panes, shared = _new_panes(mode, models, start), _shared_input(mode, start)
        results = {}
    for pane in panes:
        if pane["model"] not in known:
            pane["model"] = ""  # the page asks to choose one, rather than guess
    fields = [f for f in fields_for(mode) if f.name not in SHARED_FIELDS]
    context = {
        "mode": mode,
        "comparison": comparison,
        "models": models,
        "fields": [(f, f.kind if f.kind in SIMPLE_KINDS else "json") for f in fields],
        # Each pane adapts to its model, as the playground's form does
        # (static/js/capabilities.js).
        "capabilities": {str(m.uuid): m.capabilities() for m in models},
        "state": {
            "comparison": str(comparison.uuid) if comparison else None,
            "panes": panes,
            "shared": shared,
            "results": results,
            "blind": comparison.blind if comparison else False,
            "min_panes": MIN_PANES,
            "max_panes": MAX_PANES,
        },
        "thread": shared.get("messages") or DEFAULT_MESSAGES,
        "max_message_bytes": settings.PLAYGROUND_MAX_MESSAGE_BYTES,
        "share_url": _share_url(request, comparison),
    }
    return render(request, "compare/compare.html", context)


def _new_panes(mode, models, start):
    if start is not None:
        body = {k: v for k, v in start["body"].items() if k not in SHARED_FIELDS}
        return [{"id": f"p{i}", "model": start["model"], "body": dict(body)} for i in (1, 2)]
    default = Model.objects.for_endpoint(mode).default()
    first = str(default.uuid) if default else ""
    others = [str(m.uuid) for m in models if str(m.uuid) != first]
    second = others[0] if others else first
    return [{"id": "p1", "model": first, "body": {}}, {"id": "p2", "model": second, "body": {}}]


def _shared_input(mode, start):
    body = (start or {}).get("body") or {}
    if mode == "chat":
        messages = body.get("messages")
        return {"messages": messages if isinstance(messages, list) else DEFAULT_MESSAGES}
    prompt = body.get("prompt", "")
    return {"prompt": prompt if isinstance(prompt, str) else json.dumps(prompt)}


def _pane_results(comparison):
    """Each pane's latest run, as the page shows a finished one: its texts,
    the server-rendered result (sanitized) and, for chat, the thread so far."""
    results = {}
    for pane, run in comparison.last_runs().items():
        context = result_context(run)
        sent = run.request.get("messages") or []
        reply = None
        if run.endpoint == "chat" and run.status == Run.COMPLETED and run.response["choices"]:
            reply = run.response["choices"][0]["message"]
        results[pane] = {
            "run": str(run.uuid),
            "status": run.status,
            "model": run.model_name,
            "conversation": str(run.conversation.uuid) if run.conversation else None,
            "texts": [{"index": c["index"], "text": choice_text(run, c["index"])}
                      for c in context["choices"]],
            "html": render_to_string("history/_result.html", context),
            "sent": sent,
            "thread": sent + ([reply] if reply else []),
        }
    return results


def _share_url(request, comparison):
    if comparison is None or not comparison.is_shared:
        return ""
    return request.build_absolute_uri(reverse("compare:snapshot", args=[comparison.share_token]))


# -- keeping rounds ----------------------------------------------------------------------


@login_required
@require_POST
def save_round(request):
    """The page posts each finished round: the comparison is created with the
    first one. Answers {uuid, url} or {errors}."""
    form = RoundForm(request.user, request.POST)
    if not form.is_valid():
        errors = [{"field": f, "message": m} for f, ms in form.errors.items() for m in ms]
        return JsonResponse({"errors": errors}, status=400)
    comparison, number = form.save()
    return JsonResponse({"uuid": str(comparison.uuid), "round": number,
                         "url": reverse("compare:detail", args=[comparison.uuid])})


@login_required
@require_GET
def comparison_list(request):
    comparisons = (
        Comparison.objects.filter(owner=request.user)
        .annotate(round_count=Max("pane_runs__round"))
        .order_by("-updated")  # an aggregate drops Meta.ordering
    )
    return render(request, "compare/list.html", {
        "comparisons": comparisons, "wins": Vote.wins_per_model(request.user),
    })


@login_required
@require_POST
def delete(request, uuid):
    get_own_comparison(request.user, uuid).delete()
    return redirect("compare:list")


@login_required
@require_POST
def vote(request, uuid):
    """Blind mode: the better pane of a round. Answers the names revealed
    and the user's wins per model, as a partial."""
    comparison = get_own_comparison(request.user, uuid)
    form = VoteForm(comparison, request.POST)
    if not form.is_valid():
        return render(request, "compare/_wins.html", {"errors": form.non_field_errors()
                      or [m for ms in form.errors.values() for m in ms]}, status=400)
    chosen = form.save()
    return render(request, "compare/_wins.html", {
        "vote": chosen, "wins": Vote.wins_per_model(request.user),
    })


# -- diff ----------------------------------------------------------------------------------


def _pick(user, value):
    """"<run uuid>:<choice index>" -> (run, index); 404 unless the user's."""
    run_uuid, _, index = (value or "").partition(":")
    if not index.isdigit():
        raise Http404
    try:
        return get_own_run(user, run_uuid), int(index)
    except Exception as e:  # a malformed uuid is as absent as a missing run
        raise Http404 from e


@login_required
@require_GET
def diff(request):
    """The word-level diff of two outputs (?a= and ?b=, each
    "<run uuid>:<choice index>"), as a partial for htmx."""
    (run_a, index_a), (run_b, index_b) = _pick(request.user, request.GET.get("a")), _pick(
        request.user, request.GET.get("b")
    )
    a, b = choice_text(run_a, index_a), choice_text(run_b, index_b)
    return render(request, "history/_diff.html", diff_context(a, b))


# -- snapshot links ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def share(request, uuid):
    """The snapshot link partial (GET); POST shares the comparison by a
    read-only link (a new one kills the old), or stops (revokes) it."""
    comparison = get_own_comparison(request.user, uuid)
    if request.method == "POST" and request.POST.get("action") == "stop":
        comparison.unshare()
    elif request.method == "POST":
        comparison.share()
    return render(request, "compare/_share.html", {
        "comparison": comparison, "share_url": _share_url(request, comparison),
    })


@login_required
@require_GET
def snapshot(request, token):
    comparison = get_shared(Comparison.objects.select_related("owner"), token)
    rounds = [
        (number, [(pane_run, result_context(pane_run.run)) for pane_run in pane_runs])
        for number, pane_runs in comparison.rounds()
    ]
    return render(request, "compare/snapshot.html", {
        "comparison": comparison, "rounds": rounds,
        "owned": comparison.owner_id == request.user.pk,
    })


@login_required
@require_http_methods(["GET", "POST"])
def run_share(request, uuid):
    """A run's snapshot link: GET shows it, POST makes (or renews) or stops it."""
    run = get_own_run(request.user, uuid)
    snap, _ = RunSnapshot.objects.get_or_create(run=run)
    if request.method == "POST":
        if request.POST.get("action") == "stop":
            snap.unshare()
        else:
            snap.share()
        return redirect("compare:run_share", run.uuid)
    url = (request.build_absolute_uri(reverse("compare:run_snapshot", args=[snap.share_token]))
           if snap.is_shared else "")
    return render(request, "compare/run_share.html", {"run": run, "snap": snap, "share_url": url})


@login_required
@require_GET
def run_snapshot(request, token):
    snap = get_shared(RunSnapshot.objects.select_related("run__model__provider", "run__owner"),
                      token)
    run = snap.run
    return render(request, "compare/run_snapshot.html", {
        "run": run, "result": result_context(run), "owned": run.owner_id == request.user.pk,
    })
