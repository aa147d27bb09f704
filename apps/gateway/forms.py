"""The keys page's forms: a new key (name and limits) and a key's limits."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from . import limits
from .models import GatewayKey


class LimitsForm(forms.ModelForm):
    """A key's limits, set by its owner; the model refuses more than the
    staff's maxima (GatewayKey.clean)."""

    class Meta:
        model = GatewayKey
        fields = ["requests_per_minute", "tokens_per_day", "expires"]
        widgets = {"expires": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, maximum in limits.maxima().items():
            field = self.fields[name]
            field.widget.attrs["min"] = 1
            if maximum is None:
                field.help_text = "Blank: no limit."
            else:
                field.help_text = f"At most {maximum:,}. Blank: {maximum:,}."
                field.widget.attrs.update(max=maximum, placeholder=f"{maximum:,}")

    def clean_expires(self):
        expires = self.cleaned_data["expires"]
        if expires is not None and expires < timezone.now().date():
            raise ValidationError("Pick today or a later day.")
        return expires


class KeyForm(LimitsForm):
    class Meta(LimitsForm.Meta):
        fields = ["name", *LimitsForm.Meta.fields]
        error_messages = {"name": {"required": "Give the key a name, e.g. what will use it."}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["placeholder"] = "What will use this key?"

    def clean_name(self):
        return " ".join(self.cleaned_data["name"].split())
