"""Starting a batch and reading its results."""

import csv
import io
import json

from django.db import transaction

from apps.cases.models import latest_version
from apps.catalog.templating import body_names
from apps.providers.models import Model

from .models import Batch, Cell
from .tasks import enqueue

MAX_PANES = 6


class Refused(Exception):
    pass


def start(user, preset, model_uuids):
    """A new batch: every case of the preset on every chosen model (a pane
    each, with the preset's latest version as the template)."""
    version = latest_version(preset)
    cases = list(preset.cases.all())
    if not cases:
        raise Refused("add at least one test case first")
    if not 1 <= len(model_uuids) <= MAX_PANES:
        raise Refused(f"choose 1 to {MAX_PANES} models")
    models = {str(m.uuid): m for m in Model.objects.enabled().for_endpoint(version.mode)
              .filter(uuid__in=model_uuids)}
    missing = [u for u in model_uuids if str(u) not in models]
    if missing:
        raise Refused(f"choose models that serve {version.mode}")
    panes = [{"label": m.display_name or m.upstream_id, "model": str(m.uuid),
              "model_name": m.display_name, "body": version.body}
             for m in (models[str(u)] for u in model_uuids)]
    assertions = [{"kind": a.kind, "value": a.value,
                   "judge_model": str(a.judge_model.uuid) if a.judge_model else None}
                  for a in preset.assertions.select_related("judge_model")]
    with transaction.atomic():
        batch = Batch.objects.create(owner=user, preset=preset, version_number=version.number,
                                     mode=version.mode, panes=panes, assertions=assertions)
        Cell.objects.bulk_create(
            Cell(batch=batch, row=row, pane=pane, values=case.values, expected=case.expected)
            for row, case in enumerate(cases) for pane in range(len(panes))
        )
        # Queued in the task engine's table, in the same transaction.
        enqueue(batch)
    return batch


def grid_rows(batch):
    """[{"case", "values", "expected", "pane", "status", "passed", "output", ...}]"""
    out = []
    for cells in batch.grid():
        for cell in cells:
            run = cell.run
            rating = getattr(cell, "rating", None)
            out.append({
                "case": cell.row + 1, "pane": batch.panes[cell.pane]["label"],
                "values": cell.values, "expected": cell.expected, "status": cell.status,
                "run_status": run.status if run else "", "output": run.output_text if run else "",
                "passed": cell.passed, "verdicts": cell.verdicts, "error": cell.error,
                "duration_ms": run.duration_ms if run else None,
                "completion_tokens": run.completion_tokens if run else None,
                "cost": str(run.cost) if run and run.cost is not None else None,
                "rating": rating.value if rating else "",
                "comment": rating.comment if rating else "",
            })
    return out


def export_jsonl(batch):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in grid_rows(batch))


def export_csv(batch):
    rows = grid_rows(batch)
    # The template's order (PostgreSQL's jsonb keeps no key order).
    variables = body_names(batch.panes[0]["body"]) if batch.panes else []
    for r in rows:
        variables.extend(k for k in r["values"] if k not in variables)
    columns = ["case", "pane", *variables, "expected", "status", "run_status", "output", "passed",
               "reasons", "duration_ms", "completion_tokens", "cost", "rating", "comment"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        reasons = "; ".join(f"{v['kind']}: {'pass' if v['passed'] else 'fail'} ({v['reason']})"
                            for v in r["verdicts"]) or r["error"]
        writer.writerow([r["case"], r["pane"], *(r["values"].get(v, "") for v in variables),
                         r["expected"], r["status"], r["run_status"], r["output"],
                         "" if r["passed"] is None else ("pass" if r["passed"] else "fail"),
                         reasons, r["duration_ms"] or "", r["completion_tokens"] or "",
                         r["cost"] or "", r["rating"], r["comment"]])
    return out.getvalue()


def changed_verdicts(before, after):
    """{(row, pane label): (before passed, after passed)} where they differ."""
    def verdicts(batch):
        return {(c.row, batch.panes[c.pane]["label"]): c.passed for c in batch.cells.all()}

    old, new = verdicts(before), verdicts(after)
    return {k: (old[k], new[k]) for k in old.keys() & new.keys() if old[k] != new[k]}
