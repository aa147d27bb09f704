"""The forms compare's pages post: a finished round, a vote."""

import uuid

from django import forms
from django.utils import timezone

from apps.history.models import Conversation, Run

from .models import MAX_PANES, MIN_PANES, Comparison, PaneRun, Vote

MAX_PANE_ID = 32


class RoundForm(forms.Form):
    """A round the page ran: the panes as configured, the shared input, and
    each pane's run (the page posts it once every pane is done)."""

    comparison = forms.UUIDField(required=False)
    mode = forms.ChoiceField(choices=Conversation.MODES)
    blind = forms.BooleanField(required=False)
    shared_input = forms.JSONField()
    panes = forms.JSONField()
    runs = forms.JSONField()  # {pane id: run uuid}

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_shared_input(self):
        value = self.cleaned_data["shared_input"]
        if not isinstance(value, dict):
            raise forms.ValidationError("the shared input must be an object")
        return value

    def clean_panes(self):
        panes = self.cleaned_data["panes"]
        if not isinstance(panes, list) or not MIN_PANES <= len(panes) <= MAX_PANES:
            raise forms.ValidationError(f"a comparison has {MIN_PANES} to {MAX_PANES} panes")
        clean = []
        for pane in panes:
            if not (
                isinstance(pane, dict)
                and isinstance(pane.get("id"), str)
                and 0 < len(pane["id"]) <= MAX_PANE_ID
                and isinstance(pane.get("body"), dict)
            ):
                raise forms.ValidationError("each pane needs an id and a body")
            clean.append({"id": pane["id"], "model": str(pane.get("model") or ""),
                          "body": pane["body"]})
        if len({p["id"] for p in clean}) != len(clean):
            raise forms.ValidationError("pane ids must differ")
        return clean

    def clean_runs(self):
        runs = self.cleaned_data["runs"]
        if not isinstance(runs, dict) or not runs:
            raise forms.ValidationError("a round has runs")
        try:
            uuids = {pane: uuid.UUID(str(value)) for pane, value in runs.items()}
        except ValueError:
            raise forms.ValidationError("runs are named by their uuid") from None
        found = {r.uuid: r for r in Run.objects.filter(owner=self.user, uuid__in=uuids.values())}
        if len(found) != len(set(uuids.values())):
            raise forms.ValidationError("run not found")
        return {pane: found[value] for pane, value in uuids.items()}

    def clean(self):
        data = super().clean()
        panes, runs = data.get("panes"), data.get("runs")
        if panes and runs and not set(runs) <= {p["id"] for p in panes}:
            raise forms.ValidationError("a run names a pane that is not there")
        if runs and any(r.endpoint != data.get("mode") for r in runs.values()):
            raise forms.ValidationError("a run is of another mode")
        if data.get("comparison"):
            self.existing = Comparison.objects.filter(
                uuid=data["comparison"], owner=self.user, mode=data.get("mode")
            ).first()
            if self.existing is None:
                raise forms.ValidationError("comparison not found")
        else:
            self.existing = None
        return data

    def save(self):
        data = self.cleaned_data
        comparison = self.existing or Comparison(owner=self.user, mode=data["mode"])
        if comparison.pk is None:
            comparison.shared_input = data["shared_input"]
            comparison.title = _title(data["mode"], data["shared_input"])
        comparison.panes = data["panes"]
        comparison.blind = data["blind"]
        comparison.updated = timezone.now()
        comparison.save()
        return comparison, comparison.add_round(data["runs"])


def _title(mode, shared_input):
    if mode == "chat":
        messages = shared_input.get("messages") or []
        texts = [m.get("content") for m in messages if isinstance(m, dict)
                 and m.get("role") == "user" and isinstance(m.get("content"), str)]
        text = texts[-1] if texts else ""
    else:
        text = shared_input.get("prompt")
        text = text if isinstance(text, str) else ""
    return " ".join(text.split())[:80] or "Untitled"


class VoteForm(forms.Form):
    """Blind mode: the better pane of a round (once per round)."""

    round = forms.IntegerField(min_value=1)
    pane = forms.CharField(max_length=MAX_PANE_ID)

    def __init__(self, comparison, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.comparison = comparison

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        self.winner = PaneRun.objects.filter(
            comparison=self.comparison, round=data["round"], pane=data["pane"]
        ).select_related("run").first()
        if self.winner is None:
            raise forms.ValidationError("no such pane in that round")
        if Vote.objects.filter(comparison=self.comparison, round=data["round"]).exists():
            raise forms.ValidationError("this round has its vote already")
        return data

    def save(self):
        return Vote.objects.create(
            comparison=self.comparison, round=self.cleaned_data["round"], winner=self.winner
        )
