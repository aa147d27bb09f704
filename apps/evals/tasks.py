"""Batch cells in the task engine (django-tasks, its database backend).

Each cell is one task (`run_cell`), enqueued when the batch starts. Workers
(`manage.py evals_worker`: the backend's own worker loop, in several threads
of one process) claim tasks with the backend's row locks, so any number of
worker processes share a batch and a task is claimed once. A cell is then
claimed again on its own row (queued -> running, one UPDATE): a cell runs at
most once, whatever the task engine does.

A running cell holds one of its provider's `batch_concurrency` slots
(ProviderSlot rows, shared by every worker process) while its request is on
its way. Its run goes through the run engine on this process's one event
loop (Runtime), so it is stored, checkpointed and finished like any run.

A worker vouches for its running cells with a lease (renewed by the batch
keeper thread); a killed worker's cells are found by their lease and kept as
interrupted (their runs too, by the run keeper): never run twice. What was
still queued stays in the task engine, for the next worker to run.
"""

import asyncio
import logging
import os
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import (
    IntegrityError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from apps.catalog.templating import MissingVariable, render_body
from apps.history.models import Run
from apps.providers.models import Model
from apps.runs import engine, specs

from .assertions import evaluate, judge_messages, parse_verdict
from .models import Batch, Cell, ProviderSlot

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}-{os.getpid()}"[:56]
SLOT_WAIT = 0.02  # between tries for a free provider slot
JUDGE_MAX_TOKENS = 96


def lease():
    return timezone.now() + timedelta(seconds=settings.EVALS_LEASE_SECONDS)


# -- the process's event loop ------------------------------------------------------


class Runtime:
    """One event loop thread per worker process: every cell's run lives on
    it (the run engine's hub and checkpoint writer are per loop)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.live = {}  # cell pk -> LiveRun
        threading.Thread(target=self.loop.run_forever, name="evals-loop", daemon=True).start()

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop_cells(self, cell_pks):
        for pk in cell_pks:
            live = self.live.get(pk)
            if live is not None:
                self.loop.call_soon_threadsafe(live.stop)


_runtime = None
_runtime_lock = threading.Lock()


def runtime():
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime()
            start_keeper()
        return _runtime


# -- provider slots ------------------------------------------------------------------


def acquire_slot(provider, holder, cancelled):
    """Wait for one of the provider's slots; None if `cancelled()` first."""
    checked = 0.0
    while True:
        # Read which are taken first: a try is a write, and on SQLite every
        # write waits for the one writer.
        taken = set(ProviderSlot.objects.filter(provider_id=provider.pk)
                    .values_list("slot", flat=True))
        for slot in range(provider.batch_concurrency):
            if slot in taken:
                continue
            try:
                with transaction.atomic():
                    ProviderSlot.objects.create(
                        provider_id=provider.pk, slot=slot, holder=holder, lease_until=lease()
                    )
                return slot
            except IntegrityError:
                continue
        # A slot whose holder died is free once its lease ran out.
        ProviderSlot.objects.filter(
            provider_id=provider.pk, lease_until__lt=timezone.now()
        ).delete()
        if time.monotonic() - checked > 0.5:
            checked = time.monotonic()
            if cancelled():
                return None
        time.sleep(SLOT_WAIT)


def release_slot(holder):
    for attempt in range(20):
        try:
            ProviderSlot.objects.filter(holder=holder).delete()
            return
        except OperationalError:  # SQLite busy for longer than its timeout
            time.sleep(0.05 * (attempt + 1))
    log.warning("slot %s not released; it frees itself when its lease ends", holder)


# -- one cell ------------------------------------------------------------------------


@task()
def run_cell(cell_id):
    """Run one cell (a task of the task engine)."""
    claimed = Cell.objects.filter(pk=cell_id, status=Cell.Status.QUEUED).update(
        status=Cell.Status.RUNNING, worker=WORKER_ID, lease_until=lease()
    )
    if not claimed:
        return "skipped"  # cancelled, or already run: never twice
    cell = Cell.objects.select_related("batch__owner").get(pk=cell_id)
    batch = cell.batch
    try:
        _run(cell, batch)
    except Exception as exc:  # a bug costs one cell, never the batch
        log.exception("cell %s failed", cell.pk)
        _end(cell, error=f"internal error: {type(exc).__name__}")
    batch.maybe_finished()
    return cell.status


def _run(cell, batch):
    pane = batch.panes[cell.pane]
    model = Model.objects.enabled().select_related("provider").filter(uuid=pane["model"]).first()
    if model is None:
        return _end(cell, error="the pane's model is no longer enabled")
    try:
        body = render_body(pane["body"], cell.values)
        spec = specs.for_batch(batch.owner, model, batch.mode, body,
                               template={"body": pane["body"], "variables": cell.values})
    except MissingVariable as e:
        return _end(cell, error=e.message)
    except specs.Refused as e:
        return _end(cell, error="; ".join(err["message"] for err in e.errors))
    run = _drive_with_slot(cell, batch, model, spec, link=True)
    if run is None or run.status == Run.CANCELLED:
        return _end(cell, status=Cell.Status.CANCELLED)
    verdicts = _judge(cell, batch, run)
    _end(cell, verdicts=verdicts)


def _drive_with_slot(cell, batch, model, spec, link):
    holder = f"{WORKER_ID}:{cell.pk}:{'run' if link else 'judge'}"

    def cancelled():
        return Batch.objects.filter(pk=batch.pk, status=Batch.Status.CANCELLED).exists()

    if acquire_slot(model.provider, holder, cancelled) is None:
        return None
    try:
        # No connection held while the run streams (a pooled one goes back).
        close_old_connections()
        connection.close()
        run = runtime().run(_drive(cell, spec, link))
    finally:
        release_slot(holder)
    run.refresh_from_db()
    return run


async def _drive(cell, spec, link):
    holder = {}
    if link:
        # In the Run's first transaction: a cell and its run are stored together.
        spec.on_record.append(
            lambda: Cell.objects.filter(pk=cell.pk).update(run=holder["run"])
        )
    live, events = await engine.start_watched(spec)
    holder["run"] = live.run
    rt = runtime()
    rt.live[cell.pk] = live
    try:
        async for _ in events:
            pass
    finally:
        rt.live.pop(cell.pk, None)
    return live.run


def _judge(cell, batch, run):
    verdicts = []
    if run.status != Run.COMPLETED:
        return [{"kind": "run", "passed": False, "reason": f"the run {run.status}"
                 + (f": {run.error}" if run.error else "")}]
    from apps.cases.models import Assertion

    for a in batch.assertions:
        assertion = Assertion(kind=a["kind"], value=a.get("value", ""))
        if a["kind"] == Assertion.Kind.JUDGE:
            passed, reason = judge(batch, cell, a, run.output_text)
        else:
            passed, reason = evaluate(
                assertion, run.output_text, cell.expected, cell.values,
                duration_ms=run.duration_ms, completion_tokens=run.completion_tokens,
            )
        verdicts.append({"kind": a["kind"], "passed": passed, "reason": reason})
    return verdicts


def judge(batch, cell, assertion, output):
    """An LLM judge's verdict: the rubric run on its model through the engine."""
    model = Model.objects.enabled().select_related("provider").filter(
        uuid=assertion.get("judge_model")
    ).first()
    if model is None:
        return False, "the judge's model is no longer enabled"
    body = {"messages": judge_messages(assertion.get("value", ""), output, cell.values,
                                       cell.expected),
            "max_tokens": JUDGE_MAX_TOKENS, "temperature": 0}
    try:
        spec = specs.for_batch(batch.owner, model, "chat", body)
    except specs.Refused as e:
        return False, "the judge could not run: " + "; ".join(x["message"] for x in e.errors)
    run = _drive_with_slot(cell, batch, model, spec, link=False)
    if run is None:
        return False, "cancelled"
    if run.status != Run.COMPLETED:
        return False, f"the judge's run {run.status}"
    return parse_verdict(run.output_text)


def _end(cell, status=Cell.Status.DONE, error="", verdicts=()):
    cell.status = status
    cell.error = error
    cell.verdicts = list(verdicts)
    cell.passed = all(v["passed"] for v in verdicts) if verdicts else (False if error else None)
    cell.finished = timezone.now()
    cell.lease_until = None
    Cell.objects.filter(pk=cell.pk).update(
        status=cell.status, error=error, verdicts=cell.verdicts, passed=cell.passed,
        finished=cell.finished, lease_until=None,
    )


# -- the batch keeper ---------------------------------------------------------------


def keep_once():
    """Stop this process's cells of cancelled batches, renew its leases,
    and keep a dead worker's running cells as interrupted."""
    rt = _runtime
    if rt is not None and rt.live:
        mine = list(rt.live)
        rt.stop_cells(Cell.objects.filter(
            pk__in=mine, batch__status=Batch.Status.CANCELLED
        ).values_list("pk", flat=True))
        Cell.objects.filter(pk__in=mine, status=Cell.Status.RUNNING).update(lease_until=lease())
    ProviderSlot.objects.filter(holder__startswith=WORKER_ID + ":").update(lease_until=lease())
    orphans = Cell.objects.filter(status=Cell.Status.RUNNING, lease_until__lt=timezone.now())
    batches = set(orphans.values_list("batch_id", flat=True))
    now = timezone.now()
    # Its run may have ended just before the worker did: then only the
    # verdict is missing.
    count = orphans.filter(run__status=Run.COMPLETED).update(
        status=Cell.Status.DONE, error="its worker stopped before judging it",
        finished=now, lease_until=None,
    )
    count += orphans.update(
        status=Cell.Status.DONE, error="interrupted: its worker stopped mid-run",
        passed=False, finished=now, lease_until=None,
    )
    for batch in Batch.objects.filter(pk__in=batches):
        batch.maybe_finished()
    _requeue_lost()
    return count


def _requeue_lost():
    """A worker that died between claiming a cell's task and claiming the
    cell left a queued cell whose task is "running" for ever: the cell never
    ran, so it gets a new task."""
    stale = timezone.now() - timedelta(seconds=settings.EVALS_LEASE_SECONDS)
    queued = dict(Cell.objects.filter(
        status=Cell.Status.QUEUED, batch__status=Batch.Status.RUNNING
    ).exclude(task_id="").values_list("task_id", "pk")[:1000])
    if not queued:
        return
    lost = DBTaskResult.objects.filter(
        id__in=list(queued), status=TaskResultStatus.RUNNING, started_at__lt=stale
    ).values_list("id", flat=True)
    for task_id in lost:
        _enqueue(queued[str(task_id)])


def start_keeper():
    def keep():
        while True:
            try:
                if count := keep_once():
                    log.warning("%d cell(s) left by a stopped worker: interrupted", count)
            except Exception as exc:  # the database away, not migrated yet
                log.warning("batch keeper: %s", exc)
            finally:
                close_old_connections()
            time.sleep(settings.EVALS_LEASE_SECONDS / 5)

    threading.Thread(target=keep, name="evals-keeper", daemon=True).start()


# -- starting a batch -----------------------------------------------------------------


def enqueue(batch):
    """Queue every cell of a new batch in the task engine."""
    for cell_id in batch.cells.values_list("pk", flat=True):
        _enqueue(cell_id)


def _enqueue(cell_id):
    result = run_cell.enqueue(cell_id)
    Cell.objects.filter(pk=cell_id).update(task_id=str(result.id))
