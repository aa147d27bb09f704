"""Comparisons: one shared input run on 2–6 panes (a model and its
parameters each), round after round, kept with each pane's runs.

A Comparison holds the panes as last configured and the first round's shared
input; each round's runs are PaneRuns (round number, the pane's stable id,
the history Run). History sits below compare and knows nothing of it: the
link lives here. A comparison — or a single run — can be shown read-only to
anyone signed in who has its snapshot link (a random token, revocable).
"""

import secrets
import uuid

from django.conf import settings
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from apps.history.models import Conversation, Run

MIN_PANES = 2
MAX_PANES = 6


def new_token():
    return secrets.token_urlsafe(24)


class Shareable(models.Model):
    """A snapshot link: null while private; a new link kills the old one."""

    share_token = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        abstract = True

    @property
    def is_shared(self):
        return bool(self.share_token)

    def share(self):
        self.share_token = new_token()
        self.save(update_fields=["share_token"])

    def unshare(self):
        self.share_token = None
        self.save(update_fields=["share_token"])


class Comparison(Shareable):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comparisons"
    )
    mode = models.CharField(max_length=16, choices=Conversation.MODES)
    title = models.CharField(max_length=200, blank=True)
    # The first round's input: {"prompt": ...} or {"messages": [...]}.
    shared_input = models.JSONField(default=dict, blank=True)
    # The panes, in order: [{"id", "model" (uuid), "body" (the pane's fields)}].
    panes = models.JSONField(default=list, blank=True)
    blind = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated"]
        indexes = [models.Index(fields=["owner", "-updated"])]

    def __str__(self):
        return self.title or f"Comparison {self.uuid}"

    def add_round(self, runs):
        """Record a round: `runs` maps pane ids to Runs of the owner's."""
        with transaction.atomic():
            # Locks the row, so two saves cannot take the same number.
            Comparison.objects.select_for_update().filter(pk=self.pk).first()
            number = (self.pane_runs.aggregate(n=Max("round"))["n"] or 0) + 1
            PaneRun.objects.bulk_create(
                PaneRun(comparison=self, round=number, pane=pane, run=run)
                for pane, run in runs.items()
            )
        return number

    def rounds(self):
        """[(number, [PaneRun in pane order])], oldest first; the pane order
        is the current one (panes removed since come last)."""
        order = {p["id"]: i for i, p in enumerate(self.panes)}
        rounds = {}
        for pane_run in self.pane_runs.select_related("run__model__provider"):
            rounds.setdefault(pane_run.round, []).append(pane_run)
        return [
            (number, sorted(runs, key=lambda r: order.get(r.pane, len(order))))
            for number, runs in sorted(rounds.items())
        ]

    def last_runs(self):
        """Each pane's latest run: {pane id: Run}."""
        latest = {}
        for pane_run in self.pane_runs.select_related("run__model__provider", "run__conversation"):
            if pane_run.pane not in latest or pane_run.round > latest[pane_run.pane][0]:
                latest[pane_run.pane] = (pane_run.round, pane_run.run)
        return {pane: run for pane, (_, run) in latest.items()}


class PaneRun(models.Model):
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="pane_runs")
    round = models.PositiveIntegerField()
    pane = models.CharField(max_length=32)  # the pane's id in Comparison.panes
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["round", "id"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "round", "pane"], name="pane_run_once")
        ]

    def __str__(self):
        return f"round {self.round}, pane {self.pane}"


class Vote(models.Model):
    """Blind mode: the pane the user found better in one round."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="votes")
    round = models.PositiveIntegerField()
    winner = models.ForeignKey(PaneRun, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "round"], name="one_vote_per_round")
        ]

    def __str__(self):
        return f"vote in round {self.round}"

    @staticmethod
    def wins_per_model(user):
        """The user's blind votes by model, most wins first:
        [{"model", "wins", "rounds"}] (rounds: the votes it took part in)."""
        table = {}
        votes = Vote.objects.filter(comparison__owner=user).select_related("winner__run")
        rounds = {(v.comparison_id, v.round): v.winner.run.model_name for v in votes}
        pane_runs = PaneRun.objects.filter(
            comparison__votes__isnull=False, comparison__owner=user
        ).select_related("run").distinct()
        for pane_run in pane_runs:
            winner = rounds.get((pane_run.comparison_id, pane_run.round))
            if winner is None:
                continue
            row = table.setdefault(pane_run.run.model_name, {"wins": 0, "rounds": set()})
            row["rounds"].add((pane_run.comparison_id, pane_run.round))
        for (comparison, number), model in rounds.items():
            table.setdefault(model, {"wins": 0, "rounds": {(comparison, number)}})["wins"] += 1
        rows = [{"model": m, "wins": r["wins"], "rounds": len(r["rounds"])}
                for m, r in table.items()]
        return sorted(rows, key=lambda r: (-r["wins"], r["rounds"], r["model"]))


class RunSnapshot(Shareable):
    """The snapshot link of a single run."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"snapshot of run {self.run_id}"
