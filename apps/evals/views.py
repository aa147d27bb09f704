"""Evaluate: a preset's test cases and assertions, its batches, the results grid.

Only the preset's owner sees any of it: someone else's preset, case or batch
is a 404, exactly like a missing one. Batches run in the task engine's
workers (tasks.py); the grid page polls its own partial with htmx, so a
reload or another tab shows the same progress and keeps updating.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.cases import io
from apps.cases.models import Assertion, Case, latest_version, own_preset, presets
from apps.catalog.templating import body_names
from apps.providers.models import Model

from . import batches
from .forms import AssertionForm, CaseForm, ImportForm
from .models import Batch, Cell, Rating

SECTION = "evals"  # the nav item marked as current (base.html)


def get_own_preset(user, uuid):
    preset = own_preset(user, uuid)
    if preset is None:
        raise Http404
    return preset


def get_own_batch(user, uuid):
    return get_object_or_404(Batch.objects.select_related("preset"), uuid=uuid, owner=user)


def columns(preset, version=None):
    version = version or latest_version(preset)
    variables = body_names(version.body) if version else []
    return io.columns_of(preset.cases.as_rows(), variables)


@login_required
@require_GET
def index(request):
    mine = presets().objects.for_user(request.user)
    return render(request, "evals/index.html", {"presets": mine, "section": SECTION})


@login_required
@require_GET
def preset_page(request, uuid):
    preset = get_own_preset(request.user, uuid)
    version = latest_version(preset)
    cols = columns(preset, version)
    cases = list(preset.cases.all())
    models = list(Model.objects.enabled().for_endpoint(version.mode).select_related("provider"))
    return render(request, "evals/preset.html", {
        "section": SECTION,
        "preset": preset,
        "version": version,
        "columns": cols,
        "cases": [(c, [(name, c.values.get(name, "")) for name in cols]) for c in cases],
        "case_form": CaseForm(cols),
        "import_form": ImportForm(),
        "assertions": preset.assertions.select_related("judge_model"),
        "assertion_form": AssertionForm(),
        "models": models,
        "default_model": str(version.model.uuid) if version.model else "",
        "batches": preset.batches.filter(owner=request.user)[:20],
    })


# -- cases ------------------------------------------------------------------------


@login_required
@require_POST
def case_add(request, uuid):
    preset = get_own_preset(request.user, uuid)
    form = CaseForm(columns(preset), request.POST)
    if form.is_valid():
        Case.append(preset, [form.row()])
    return redirect("evals:preset", preset.uuid)


@login_required
@require_POST
def case_edit(request, uuid, case):
    preset = get_own_preset(request.user, uuid)
    case = get_object_or_404(preset.cases, uuid=case)
    action = request.POST.get("action", "save")
    if action == "delete":
        case.delete()
    elif action in ("up", "down"):
        case.move(-1 if action == "up" else 1)
    else:
        form = CaseForm(columns(preset), request.POST)
        if form.is_valid():
            row = form.row()
            case.expected = row.pop("expected", "")
            case.values = row
            case.save(update_fields=["values", "expected"])
    return redirect("evals:preset", preset.uuid)


@login_required
@require_POST
def cases_import(request, uuid):
    preset = get_own_preset(request.user, uuid)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a CSV or JSONL file.")
        return redirect("evals:preset", preset.uuid)
    upload = form.cleaned_data["file"]
    raw = upload.read(io.MAX_IMPORT_BYTES + 1)
    parse = io.parse_jsonl if upload.name.lower().endswith((".jsonl", ".json")) else io.parse_csv
    try:
        rows = parse(raw)
    except io.ImportRefused as e:
        return render(request, "evals/refused.html",
                      {"preset": preset, "errors": e.errors, "filename": upload.name,
                       "section": SECTION}, status=400)
    Case.append(preset, rows)
    messages.success(request, f"Imported {len(rows)} test case{'s' if len(rows) != 1 else ''}.")
    return redirect("evals:preset", preset.uuid)


@login_required
@require_GET
def cases_export(request, uuid, fmt):
    preset = get_own_preset(request.user, uuid)
    rows = preset.cases.as_rows()
    if fmt == "csv":
        content, kind = io.to_csv(rows, columns(preset)), "text/csv"
    else:
        content, kind = io.to_jsonl(rows), "application/jsonl"
    response = HttpResponse(content, content_type=f"{kind}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="cases-{preset.uuid}.{fmt}"'
    return response


# -- assertions --------------------------------------------------------------------


@login_required
@require_POST
def assertion_add(request, uuid):
    preset = get_own_preset(request.user, uuid)
    form = AssertionForm(request.POST)
    if form.is_valid():
        assertion = form.save(commit=False)
        assertion.preset = preset
        assertion.position = preset.assertions.count()
        assertion.save()
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"Assertion: {error}")
    return redirect("evals:preset", preset.uuid)


@login_required
@require_POST
def assertion_delete(request, uuid, assertion):
    preset = get_own_preset(request.user, uuid)
    get_object_or_404(Assertion, preset=preset, uuid=assertion).delete()
    return redirect("evals:preset", preset.uuid)


# -- batches -----------------------------------------------------------------------


@login_required
@require_POST
def batch_start(request, uuid):
    preset = get_own_preset(request.user, uuid)
    try:
        batch = batches.start(request.user, preset, request.POST.getlist("models"))
    except batches.Refused as e:
        messages.error(request, f"Run all: {e}")
        return redirect("evals:preset", preset.uuid)
    return redirect("evals:batch", batch.uuid)


def _batch_context(batch):
    return {
        "batch": batch,
        "progress": batch.progress(),
        "rows": batch.grid(),
        "summary": batch.summary(),
    }


@login_required
@require_GET
def batch_page(request, uuid):
    batch = get_own_batch(request.user, uuid)
    others = batch.preset.batches.filter(owner=request.user).exclude(pk=batch.pk)
    return render(request, "evals/batch.html",
                  {**_batch_context(batch), "others": others, "section": SECTION})


@login_required
@require_GET
def batch_grid(request, uuid):
    batch = get_own_batch(request.user, uuid)
    return render(request, "evals/_grid.html", _batch_context(batch))


@login_required
@require_POST
def batch_cancel(request, uuid):
    batch = get_own_batch(request.user, uuid)
    batch.cancel()
    if request.headers.get("HX-Request"):
        return render(request, "evals/_grid.html", _batch_context(batch))
    return redirect("evals:batch", batch.uuid)


@login_required
@require_GET
def batch_export(request, uuid, fmt):
    batch = get_own_batch(request.user, uuid)
    if fmt == "csv":
        content, kind = batches.export_csv(batch), "text/csv"
    else:
        content, kind = batches.export_jsonl(batch), "application/jsonl"
    response = HttpResponse(content, content_type=f"{kind}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.uuid}.{fmt}"'
    return response


@login_required
@require_GET
def batch_compare(request, uuid, other):
    after = get_own_batch(request.user, uuid)
    before = get_own_batch(request.user, other)
    if before.preset_id != after.preset_id:
        raise Http404
    changed = batches.changed_verdicts(before, after)
    rows = []
    befores = {(c.row, before.panes[c.pane]["label"]): c
               for c in before.cells.select_related("run")}
    for cells in after.grid():
        line = []
        for cell in cells:
            label = after.panes[cell.pane]["label"]
            old = befores.get((cell.row, label))
            line.append({"after": cell, "before": old, "changed": (cell.row, label) in changed})
        rows.append(line)
    return render(request, "evals/compare.html", {
        "section": SECTION,
        "before": before, "after": after, "rows": rows, "changed": len(changed),
        "summaries": zip(before.summary(), after.summary(), strict=False),
    })


# -- ratings ------------------------------------------------------------------------


@login_required
@require_POST
def rate(request, uuid):
    cell = get_object_or_404(Cell.objects.select_related("batch"), uuid=uuid,
                             batch__owner=request.user)
    value = request.POST.get("value")
    if value not in (Rating.UP, Rating.DOWN):
        return HttpResponse("value must be up or down", status=400)
    Rating.objects.update_or_create(
        cell=cell, defaults={"user": request.user, "value": value,
                             "comment": request.POST.get("comment", "")[:2000]},
    )
    cell = Cell.objects.select_related("run", "rating", "batch").get(pk=cell.pk)
    return render(request, "evals/_cell.html", {"cell": cell, "batch": cell.batch})
