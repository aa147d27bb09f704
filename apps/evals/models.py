"""Batches: every test case of a preset run on every pane, one Cell each.

A Batch fixes what it runs when it starts: its panes (model and body each)
and, in its cells, each case's values and expected answer, so a later edit of
the preset never changes a past batch. Cells are queued in the task engine
(django-tasks' database backend, tasks.py); a cell moves queued -> running ->
done (its Run says how the run ended) or cancelled (it never ran).
"""

import statistics
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.history.models import Run


class Batch(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batches"
    )
    preset = models.ForeignKey("presets.Preset", on_delete=models.CASCADE, related_name="batches")
    version_number = models.PositiveIntegerField()
    mode = models.CharField(max_length=16)
    # [{"label", "model" (uuid), "model_name", "body"}]: the template run per pane.
    panes = models.JSONField(default=list)
    # The preset's assertions when the batch started: [{"kind", "value", "judge_model"}]
    assertions = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"batch {self.uuid} ({self.status})"

    def cancel(self):
        """Cancel every cell not yet run; running ones are stopped by their
        worker (tasks.py watches for it)."""
        Batch.objects.filter(pk=self.pk, status=Batch.Status.RUNNING).update(
            status=Batch.Status.CANCELLED, finished=timezone.now()
        )
        self.cells.filter(status=Cell.Status.QUEUED).update(
            status=Cell.Status.CANCELLED, finished=timezone.now()
        )
        self.refresh_from_db()

    def maybe_finished(self):
        if not self.cells.filter(status__in=Cell.OPEN).exists():
            Batch.objects.filter(pk=self.pk, status=Batch.Status.RUNNING).update(
                status=Batch.Status.FINISHED, finished=timezone.now()
            )

    def progress(self):
        counts = dict(self.cells.values_list("status").annotate(n=models.Count("id")))
        total = sum(counts.values())
        done = total - sum(counts.get(s, 0) for s in Cell.OPEN)
        return {"total": total, "done": done, **counts}

    def grid(self):
        """Rows (one per case) of cells (one per pane), with their runs."""
        cells = list(self.cells.select_related("run", "rating").order_by("row", "pane"))
        rows = {}
        for cell in cells:
            rows.setdefault(cell.row, []).append(cell)
        return [rows[r] for r in sorted(rows)]

    def summary(self):
        """Per pane: pass rate, latency, tokens, cost, ratings."""
        out = []
        cells = list(self.cells.select_related("run", "rating"))
        for index, pane in enumerate(self.panes):
            mine = [c for c in cells if c.pane == index]
            runs = [c.run for c in mine if c.run is not None and c.run.status != Run.RUNNING]
            judged = [c for c in mine if c.passed is not None]
            latencies = sorted(r.duration_ms for r in runs if r.duration_ms is not None)
            costs = [r.cost for r in runs if r.cost is not None]
            out.append({
                "pane": pane,
                "cells": len(mine),
                "done": sum(1 for c in mine if c.status not in Cell.OPEN),
                "passed": sum(1 for c in judged if c.passed),
                "judged": len(judged),
                "pass_rate": (100 * sum(1 for c in judged if c.passed) / len(judged))
                if judged else None,
                "mean_ms": statistics.fmean(latencies) if latencies else None,
                "p95_ms": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
                if latencies else None,
                "prompt_tokens": sum(r.prompt_tokens or 0 for r in runs),
                "completion_tokens": sum(r.completion_tokens or 0 for r in runs),
                "cost": sum(costs) if costs else None,
                "up": sum(1 for c in mine if c.rating_value == Rating.UP),
                "down": sum(1 for c in mine if c.rating_value == Rating.DOWN),
            })
        return out


class Cell(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    OPEN = (Status.QUEUED, Status.RUNNING)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="cells")
    row = models.PositiveIntegerField()  # the case's position
    pane = models.PositiveIntegerField()
    values = models.JSONField(default=dict)
    expected = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Who runs it and until when it vouches for it (a dead worker's cells are
    # found by their lease and kept as interrupted, never run again).
    worker = models.CharField(max_length=64, blank=True)
    task_id = models.CharField(max_length=64, blank=True)  # its task in the task engine
    lease_until = models.DateTimeField(null=True, blank=True)
    run = models.OneToOneField(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="cell"
    )
    error = models.TextField(blank=True)  # why it could not run (e.g. a missing variable)
    passed = models.BooleanField(null=True, blank=True)  # null: no assertion
    verdicts = models.JSONField(default=list, blank=True)  # [{"kind", "passed", "reason"}]
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["row", "pane"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "row", "pane"], name="cell_position")
        ]
        indexes = [models.Index(fields=["status", "lease_until"])]

    def __str__(self):
        return f"cell {self.row}/{self.pane} of {self.batch_id}"

    @property
    def rating_value(self):
        rating = getattr(self, "rating", None)
        return rating.value if rating else None

    @property
    def output(self):
        return self.run.output_text if self.run else ""


class Rating(models.Model):
    UP = "up"
    DOWN = "down"
    VALUES = [(UP, "👍"), (DOWN, "👎")]

    cell = models.OneToOneField(Cell, on_delete=models.CASCADE, related_name="rating")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    value = models.CharField(max_length=8, choices=VALUES)
    comment = models.TextField(blank=True)
    updated = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.value} on {self.cell}"


class ProviderSlot(models.Model):
    """One of a provider's `batch_concurrency` request slots, held by a
    worker while a cell's request is on its way: the bound holds across
    every worker process (the database is what they share). A slot whose
    holder died is free again when its lease ends."""

    provider_id = models.BigIntegerField()
    slot = models.PositiveIntegerField()
    holder = models.CharField(max_length=64)
    lease_until = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider_id", "slot"], name="provider_slot")
        ]

    def __str__(self):
        return f"slot {self.slot} of provider {self.provider_id}"
