from django import forms

from apps.cases.models import EXPECTED, Assertion
from apps.providers.models import Model


class CaseForm(forms.Form):
    """One test case: a text field per column (variables) plus "expected"."""

    def __init__(self, columns, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in columns:
            self.fields[name] = forms.CharField(required=False, strip=False,
                                                widget=forms.Textarea(attrs={"rows": 1}))
        self.fields[EXPECTED] = forms.CharField(required=False, strip=False,
                                                widget=forms.Textarea(attrs={"rows": 1}))

    def row(self):
        return {k: v for k, v in self.cleaned_data.items() if v != "" or k != EXPECTED}


class ImportForm(forms.Form):
    file = forms.FileField()


class AssertionForm(forms.ModelForm):
    class Meta:
        model = Assertion
        fields = ["kind", "value", "judge_model"]
        widgets = {"value": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["judge_model"].queryset = Model.objects.enabled().for_endpoint("chat")
        self.fields["judge_model"].required = False

    def clean(self):
        data = super().clean()
        kind, value = data.get("kind"), data.get("value", "")
        from .assertions import check_argument

        error = check_argument(kind, value, data.get("judge_model"))
        if error:
            self.add_error("judge_model" if kind == Assertion.Kind.JUDGE and "model" in error
                           else "value", error)
        return data
