"""The history browser: the user's runs and conversations, newest first;
filters and search; a run's request, response, metrics and code; re-run,
fork and delete. Someone else's run or conversation is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator, add_truncation_text, calculate_truncate_chars_length
from django.views.decorators.http import require_GET, require_POST

from apps.htmx import partial_or_page
from apps.inference.local import untranslate
from apps.presets.code import render_code
from apps.presets.draft import Draft, open_in_playground
from apps.providers.models import Model

from .diff import choice_text, diff_context
from .models import Conversation, Run
from .render import result_context

PAGE_SIZE = 50
MAX_QUERY = 200


def get_own_run(user, uuid):
    """A run of this user's, or 404: someone else's run is not there."""
    return get_object_or_404(
        Run.objects.select_related("conversation", "model__provider"), uuid=uuid, owner=user
    )


def get_own_conversation(user, uuid):
    return get_object_or_404(Conversation, uuid=uuid, owner=user)


def _filters(request):
    """The list's filters from the query string; anything unknown is ignored."""
    get = request.GET
    return {
        "mode": get.get("mode") if get.get("mode") in dict(Conversation.MODES) else "",
        "model": (get.get("model") or "")[:200],
        "status": get.get("status") if get.get("status") in dict(Run.STATUSES) else "",
        "source": get.get("source") if get.get("source") in dict(Run.SOURCES) else "",
        "q": " ".join((get.get("q") or "").split())[:MAX_QUERY],
    }


def filtered_runs(user, mode="", model="", status="", q="", source=""):
    runs = Run.objects.for_user(user)
    if mode:
        runs = runs.filter(endpoint=mode)
    if model:
        runs = runs.filter(model_name=model)
    if status:
        runs = runs.filter(status=status)
    if source:
        runs = runs.filter(source=source)
    if q:
        # A substring of the prompt or of the output: on SQLite a scan of this
        # user's rows, on PostgreSQL the trigram indexes of history's migration
        # 0002 (figures in bench/README.md).
        runs = runs.filter(Q(prompt_text__icontains=q) | Q(output_text__icontains=q))
    # The list shows neither the request nor the response: do not load them.
    return runs.select_related("conversation").defer(
        "request", "response", "notices", "conversation__form"
    )


class Window:
    """One page of search results, without counting every match.

    A substring search reads each of the user's rows; a paginator's COUNT(*)
    would read them all a second time. Fetching one row more than a page
    tells whether there is a next page; the total is known only on the last.
    """

    def __init__(self, queryset, number, size):
        self.number = number
        rows = list(queryset[(number - 1) * size : number * size + 1])
        self.object_list = rows[:size]
        self.has_next = len(rows) > size
        self.has_previous = number > 1
        self.previous_page_number = number - 1
        self.next_page_number = number + 1
        self.count = None if self.has_next else (number - 1) * size + len(self.object_list)
        self.num_pages = None if self.has_next else number
        self.more_than = number * size

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)


class LatePaginator(Paginator):
    """A paginator whose OFFSET walks the (owner, -created) index, not the rows.

    A deep page (OFFSET 7,450 at 10,000 runs) read every skipped row's
    prompt and output; choosing the page's ids first and then fetching those
    50 rows made it about 4x cheaper (figures in bench/README.md).
    """

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = self.object_list.values("pk")[bottom : bottom + self.per_page]
        return self._get_page(self.object_list.filter(pk__in=ids), number, self)


def _snippet(text, length=80, cut=None, ellipsis=None):
    """{{ text|truncatechars:80 }} for plain ASCII (no normalization, no
    combining characters) without Django's per-character walk and its two
    translation lookups per call; anything else goes through Django."""
    if not text.isascii() or cut is None:
        return Truncator(text).chars(length)
    if len(text) <= length:
        return text
    return text[:cut] + ellipsis


def _rows(page):
    """The list's per-row links, snippets, labels and dates, computed once per
    page: `{% url %}`, `truncatechars`, `date` and `get_FOO_display` per row
    cost more than the rest of the rows' template (figures in bench/README.md).
    The text is the same as those tags and filters make."""
    zero = "00000000-0000-0000-0000-000000000000"
    run_url = reverse("history:run", args=[zero])
    conversation_url = reverse("studio:conversation", args=[zero])
    cut = calculate_truncate_chars_length(80, None)
    ellipsis = add_truncation_text("", None)  # "…" after the cut text
    statuses, sources = dict(Run.STATUSES), dict(Run.SOURCES)
    for run in page:
        run.url = run_url.replace(zero, str(run.uuid))
        run.conversation_url = (
            conversation_url.replace(zero, str(run.conversation.uuid)) if run.conversation else ""
        )
        run.prompt_snippet = _snippet(run.prompt_text, cut=cut, ellipsis=ellipsis)
        run.output_snippet = _snippet(run.output_text, cut=cut, ellipsis=ellipsis)
        run.when = timezone.localtime(run.created).strftime("%Y-%m-%d %H:%M:%S")
        run.status_label = statuses.get(run.status, run.status)
        run.source_label = sources.get(run.source, run.source)


def _page_number(value):
    try:
        return max(1, min(int(value), 1_000_000))
    except (TypeError, ValueError):
        return 1


@login_required
@require_GET
def run_list(request):
    filters = _filters(request)
    runs = filtered_runs(request.user, **filters)
    if filters["q"]:
        page = Window(runs, _page_number(request.GET.get("page")), PAGE_SIZE)
    else:
        page = LatePaginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
        page.count, page.num_pages = page.paginator.count, page.paginator.num_pages
    _rows(page)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "filtered": any(filters.values()),
        "query": query.urlencode(),
        "modes": Conversation.MODES,
        "statuses": Run.STATUSES,
        "sources": Run.SOURCES,
        # Suggestions only (any name can be typed): a DISTINCT over the
        # user's runs cost more than the rest of the page at 10,000 runs.
        "model_names": Model.objects.enabled().order_by("display_name").values_list(
            "display_name", flat=True
        ),
    }
    # htmx swaps in the table alone.
    return partial_or_page(request, "history/_runs.html", "history/run_list.html", context)


@login_required
@require_GET
def run_detail(request, uuid):
    run = get_own_run(request.user, uuid)
    snippets = render_code(
        run.request, run.endpoint, run.model, gateway_url=request.build_absolute_uri("/v1")
    )
    return render(request, "history/run_detail.html", {
        "run": run,
        "snippets": snippets,
        # "Re-run": the page sends this request again over the playground's
        # websocket and shows the new output against this one.
        "replay": {"mode": run.endpoint, **_form_of(run)},
        "original": result_context(run),
    })


@login_required
@require_GET
def run_tokens(request, uuid):
    """What the playground needs to show a finished run again as it streamed:
    each choice's finish reason and logprobs (the heatmap), and the request
    as the playground's form (to branch from a token)."""
    run = get_own_run(request.user, uuid)
    choices = [
        {
            "index": c.get("index", 0),
            "finish_reason": c.get("finish_reason"),
            "logprobs": c.get("logprobs"),
        }
        for c in (run.response or {}).get("choices", [])
    ]
    return JsonResponse({"mode": run.endpoint, **_form_of(run), "choices": choices})


def _pick(user, value):
    """"<run uuid>:<choice index>" -> (run, index); 404 unless the user's."""
    run_uuid, _, index = (value or "").partition(":")
    if not index.isdigit():
        raise Http404
    try:
        return get_own_run(user, run_uuid), int(index)
    except Http404:
        raise
    except Exception as e:  # a malformed uuid is as absent as a missing run
        raise Http404 from e


@login_required
@require_GET
def diff(request):
    """The word-level diff of two outputs (?a= and ?b=, each "<run
    uuid>:<choice index>"; ?label_a= and ?label_b= name them), as a partial:
    the playground's candidates, a replay against its original."""
    (run_a, index_a), (run_b, index_b) = (
        _pick(request.user, request.GET.get("a")),
        _pick(request.user, request.GET.get("b")),
    )
    labels = [(request.GET.get(k) or d)[:60] for k, d in (("label_a", "A"), ("label_b", "B"))]
    context = diff_context(choice_text(run_a, index_a), choice_text(run_b, index_b), *labels)
    return render(request, "history/_diff.html", context)


def _form_of(run):
    """The playground form that sends this run's request again."""
    model = run.model or Model.objects.resolve(run.model_name)
    # The request as sent, back in the form's words: the catalogue's names
    # (llama.cpp's differ), and a request sent without `stream` was a
    # non-streamed run (the form's unset would stream).
    body = {k: v for k, v in untranslate(run.request).items() if k != "model"}
    body.setdefault("stream", False)
    return {"model": str(model.uuid) if model else "", "body": body}


def _title(run):
    if run.conversation and run.conversation.title:
        return run.conversation.title
    return " ".join(run.prompt_text.split())[:80] or "Untitled"


@login_required
@require_GET
def rerun(request, uuid):
    """The playground with this run's request as the form. Nothing is saved
    until Run is pressed; the new run starts a new conversation."""
    run = get_own_run(request.user, uuid)
    form = _form_of(run)
    draft = Draft(run.endpoint, form["model"], form["body"], title=f"Re-run: {_title(run)}")
    return open_in_playground(request, draft)


@login_required
@require_POST
def fork(request, uuid):
    """A new conversation holding this run's request (and, for chat, its messages)."""
    run = get_own_run(request.user, uuid)
    form = _form_of(run)
    with transaction.atomic():
        conversation = Conversation.objects.create(
            owner=request.user,
            mode=run.endpoint,
            title=f"Fork: {_title(run)}"[:200],
            form=form,
            updated=timezone.now(),
        )
        if run.endpoint == "chat":
            conversation.set_messages(run.request.get("messages") or [])
    return redirect("studio:conversation", conversation.uuid)


@login_required
@require_POST
def run_delete(request, uuid):
    run = get_own_run(request.user, uuid)
    run.delete()
    messages.success(request, "Run deleted.")
    return redirect("history:list")


@login_required
@require_GET
def conversation_list(request):
    conversations = (
        Conversation.objects.filter(owner=request.user)
        .annotate(run_count=Count("runs"))
        .defer("form")
        .order_by("-updated")  # an aggregate drops Meta.ordering
    )
    page = Paginator(conversations, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "history/conversation_list.html", {"page": page})


@login_required
@require_POST
def conversation_delete(request, uuid):
    conversation = get_own_conversation(request.user, uuid)
    conversation.delete()
    messages.success(request, "Conversation deleted, with its runs.")
    return redirect("history:conversations")
