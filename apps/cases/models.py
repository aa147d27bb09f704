"""A preset's test cases (one value per template variable, plus an optional
expected answer) and its assertions (how each batch cell is judged).

They are the preset's current table: a batch (apps/evals) copies each case's
values into its cells, so a later edit never changes a past batch; each new
preset version keeps a snapshot of both (CaseSnapshot); a fork copies them
(signals.py); an export carries them (apps/presets/transfer.py).
"""

import uuid

from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

EXPECTED = "expected"


class CaseQuerySet(models.QuerySet):
    def as_rows(self):
        return [c.as_row() for c in self]


class Case(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    preset = models.ForeignKey("presets.Preset", on_delete=models.CASCADE, related_name="cases")
    position = models.PositiveIntegerField()
    # {variable name: text}
    values = models.JSONField(default=dict, blank=True)
    expected = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["preset", "position"])]

    def __str__(self):
        return f"case {self.position + 1}"

    def as_row(self):
        row = dict(self.values)
        if self.expected:
            row[EXPECTED] = self.expected
        return row

    @classmethod
    def append(cls, preset, rows):
        """Add rows ({name: text, "expected"?: text}) at the end, in one transaction."""
        with transaction.atomic():
            start = (preset.cases.aggregate(n=Max("position"))["n"] or -1) + 1
            return cls.objects.bulk_create(
                cls.from_row(preset, start + i, row) for i, row in enumerate(rows)
            )

    @classmethod
    def from_row(cls, preset, position, row):
        values = {k: v for k, v in row.items() if k != EXPECTED}
        return cls(preset=preset, position=position, values=values,
                   expected=row.get(EXPECTED) or "")

    def move(self, delta):
        """Swap with the neighbour above (-1) or below (+1)."""
        siblings = list(self.preset.cases.all())
        i = next(i for i, c in enumerate(siblings) if c.pk == self.pk)
        j = i + delta
        if not 0 <= j < len(siblings):
            return
        siblings[i], siblings[j] = siblings[j], siblings[i]
        with transaction.atomic():
            for position, case in enumerate(siblings):
                if case.position != position:
                    Case.objects.filter(pk=case.pk).update(position=position)


class Assertion(models.Model):
    class Kind(models.TextChoices):
        CONTAINS = "contains", "Contains"
        NOT_CONTAINS = "not_contains", "Does not contain"
        EQUALS = "equals", "Equals expected"
        REGEX = "regex", "Matches regex"
        IS_JSON = "is_json", "Is JSON"
        JSON_SCHEMA = "json_schema", "Matches JSON schema"
        MAX_LATENCY = "max_latency", "Max latency (ms)"
        MAX_TOKENS = "max_tokens", "Max completion tokens"
        JUDGE = "judge", "LLM judge"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    preset = models.ForeignKey(
        "presets.Preset", on_delete=models.CASCADE, related_name="assertions"
    )
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The argument: text to find, a regex, a JSON schema, a number, or the
    # judge's rubric. Templated like the prompt ({{expected}} and each variable).
    value = models.TextField(blank=True)
    # The judge's model (an enabled one; the embedded model works offline).
    judge_model = models.ForeignKey(
        "providers.Model", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.value[:40]}"

    def as_export(self):
        d = {"kind": self.kind, "value": self.value}
        if self.judge_model is not None:
            d["judge_model"] = self.judge_model.display_name or self.judge_model.upstream_id
        return d


class CaseSnapshot(models.Model):
    """The cases and assertions as they were when a preset version was saved."""

    version = models.OneToOneField(
        "presets.PresetVersion", on_delete=models.CASCADE, related_name="case_snapshot"
    )
    cases = models.JSONField(default=list)
    assertions = models.JSONField(default=list)

    def __str__(self):
        return f"cases of {self.version}"


def copy_cases(source, target):
    """Give preset `target` a copy of `source`'s cases and assertions (a fork)."""
    with transaction.atomic():
        Case.objects.bulk_create(
            Case(preset=target, position=c.position, values=c.values, expected=c.expected)
            for c in source.cases.all()
        )
        Assertion.objects.bulk_create(
            Assertion(preset=target, position=a.position, kind=a.kind, value=a.value,
                      judge_model=a.judge_model)
            for a in source.assertions.all()
        )


def presets():
    """The Preset model, reached by its label as the foreign keys above are:
    presets sit above this layer, so their code is never imported here."""
    from django.apps import apps

    return apps.get_model("presets", "Preset")


def own_preset(user, uuid):
    """A preset of the user's, or None (someone else's is as absent as a
    missing one)."""
    return presets().objects.filter(uuid=uuid, owner=user).first()


def latest_version(preset):
    return preset.versions.order_by("-number").select_related("model__provider").first()
