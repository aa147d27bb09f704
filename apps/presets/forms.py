"""The preset dialogs as Django forms: Save preset, View code, import, and
the name-and-description form of a preset's page.

The playground's own form (mode, model and the typed body that
static/js/playground.js collects) travels in three hidden fields; the
catalogue's verdict on the body becomes errors of the `body` field, each
naming the playground field it is about.
"""

import json
import uuid

from django import forms

from apps.catalog import ValidationFailed
from apps.providers.models import Model

from .models import MODES, clean_body, clean_tool_mocks
from .transfer import MAX_IMPORT_BYTES, ImportRefused, import_document, parse


class PlaygroundRequestForm(forms.Form):
    """The playground's current form: filled in by static/js/presets.js."""

    mode = forms.ChoiceField(choices=MODES, widget=forms.HiddenInput, error_messages={
        "required": "mode must be completions or chat",
        "invalid_choice": "mode must be completions or chat",
    })
    model = forms.CharField(required=False, widget=forms.HiddenInput)
    body = forms.CharField(required=False, strip=False, widget=forms.HiddenInput)

    def clean_body(self):
        text = self.cleaned_data.get("body") or "{}"
        try:
            body = json.loads(text)
        except ValueError:
            raise forms.ValidationError("body is not valid JSON") from None
        if not isinstance(body, dict):
            raise forms.ValidationError("body must be a JSON object")
        return body

    def clean(self):
        cleaned = super().clean()
        mode, body = cleaned.get("mode"), cleaned.get("body")
        if mode is None:
            return cleaned
        model = (
            Model.objects.enabled().for_endpoint(mode).select_related("provider")
            .filter(uuid=_uuid(cleaned.get("model"))).first()
        )
        if model is None:
            self.add_error("model", f"choose a model that serves {mode}")
            return cleaned
        cleaned["model"] = model
        if body is not None:
            try:
                cleaned["body"] = clean_body(mode, model, body)
            except ValidationFailed as e:
                # The fields are the playground's: each message names its field.
                for error in e.errors:
                    self.add_error("body", naming(error))
        return cleaned

    def problems(self):
        """Every error, in field order (the dialog shows the hidden fields' errors in one list)."""
        return [m for name in ("mode", "model", "body") for m in self.errors.get(name, [])]


class PresetNameForm(forms.Form):
    name = forms.CharField(max_length=200, error_messages={
        "required": "give the preset a name",
        "max_length": "name must be at most 200 characters",
    })
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update(autocomplete="off")


class SavePresetForm(PresetNameForm, PlaygroundRequestForm):
    """Save preset: a name and a description for the playground's form, and
    the tool-call loop's saved results (JSON text; kept beside the body)."""

    tool_mocks = forms.CharField(required=False, strip=False, widget=forms.HiddenInput)

    def clean_tool_mocks(self):
        text = self.cleaned_data.get("tool_mocks")
        try:
            return clean_tool_mocks(json.loads(text) if text else None)
        except ValueError:
            raise forms.ValidationError("tool_mocks is not valid JSON") from None
        except ValidationFailed as e:
            raise forms.ValidationError([naming(error) for error in e.errors]) from None

    def problems(self):
        return super().problems() + list(self.errors.get("tool_mocks", []))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update(autofocus=True)


class ImportForm(forms.Form):
    file = forms.FileField(error_messages={"required": "choose a file to import"})

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB"
            )
        try:
            return parse(upload.read())
        except ImportRefused as e:
            raise forms.ValidationError(e.errors) from None

    def save(self, user):
        """The presets created, or None with the refusals as the file's errors
        (every preset is checked first: one wrong, none imported)."""
        try:
            return import_document(user, self.cleaned_data["file"])
        except ImportRefused as e:
            self.add_error("file", e.errors)
            return None


def naming(error):
    """A catalogue error's message, with its field in front if it does not say it."""
    if error.field and error.field != "body" and error.field not in error.message:
        return f"{error.field}: {error.message}"
    return error.message


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
