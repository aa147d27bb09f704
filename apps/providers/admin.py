"""Staff manage providers and models here. Thin: the logic is on the models.

The API key and extra headers are write-only: the form never renders them,
a blank field keeps what is stored, and lists show a masked key.
"""

from django import forms
from django.contrib import admin, messages

from apps.inference import UpstreamError

from .crypto import SecretUnreadable
from .models import ENDPOINTS, Model, Provider


class WriteOnlyTextarea(forms.Textarea):
    """Never renders a value: neither the stored headers nor the ones just
    typed when the form comes back with an error on another field (the page,
    its cache and its screenshots would hold the secret)."""

    def format_value(self, value):
        return None


class ProviderForm(forms.ModelForm):
    api_key = forms.CharField(
        label="New API key",
        required=False,
        # render_value=False: the stored key never goes back to the browser.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the current key. Never shown again, not "
        "even when the form has an error: type it again then.",
    )
    clear_api_key = forms.BooleanField(label="Remove the key", required=False)
    extra_headers = forms.JSONField(
        label="New extra headers",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3}),
        help_text='Write-only, a JSON object such as {"X-Org": "..."}. Leave blank to keep '
        "the current headers; {} removes them. Never shown again, not even when the form "
        "has an error: type them again then.",
    )

    class Meta:
        model = Provider
        fields = [
            "name",
            "kind",
            "base_url",
            "api_version",
            "enabled",
            "unknown_fields",
            "api_key",
            "extra_headers",
            "connect_timeout",
            "first_byte_timeout",
            "between_chunks_timeout",
            "total_timeout",
            "batch_concurrency",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Never pre-fill a secret, not even into a hidden or password input.
        self.initial.pop("api_key", None)
        self.initial.pop("extra_headers", None)

    def clean_api_key(self):
        # Blank keeps the stored key (even one we cannot decrypt right now).
        return self.cleaned_data["api_key"] or self.instance.api_key

    def clean_extra_headers(self):
        headers = self.cleaned_data["extra_headers"]
        return self.instance.extra_headers if headers is None else headers

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("clear_api_key"):
            cleaned["api_key"] = ""
        return cleaned


class ModelInline(admin.TabularInline):
    model = Model
    fields = [
        "upstream_id",
        "display_name",
        "serves_completions",
        "serves_chat",
        "enabled",
        "is_default",
        "position",
        "input_price_per_mtok",
        "output_price_per_mtok",
    ]
    extra = 0
    show_change_link = True


def safe_message(provider, error):
    message = getattr(error, "message", None) or str(error)
    # The adapter promises messages without secrets; scrub anyway, since a
    # message shown here is a message shown in a browser.
    secrets = [provider.api_key] if isinstance(provider.api_key, str) else []
    if isinstance(provider.extra_headers, dict):
        secrets += provider.extra_headers.values()
    for secret in secrets:
        if secret:
            message = message.replace(secret, "••••")
    return f"{provider.name}: {message}"


def plural(count, word):
    return f"{count} {word}" + ("" if count == 1 else "s")


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    inlines = [ModelInline]
    list_display = ["name", "kind", "base_url", "key", "enabled"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["key", "headers", "uuid", "created", "updated"]
    actions = ["test_connection", "discover_models"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "base_url", "api_version", "enabled"]}),
        ("Extra parameters", {"fields": ["unknown_fields"]}),
        (
            "Secrets (encrypted at rest, write-only)",
            {"fields": ["key", "api_key", "clear_api_key", "headers", "extra_headers"]},
        ),
        (
            "Timeouts (seconds)",
            {
                "fields": [
                    "connect_timeout",
                    "first_byte_timeout",
                    "between_chunks_timeout",
                    "total_timeout",
                ]
            },
        ),
        ("Evaluation batches", {"fields": ["batch_concurrency"]}),
        ("Record", {"fields": ["uuid", "created", "updated"], "classes": ["collapse"]}),
    ]

    @admin.display(description="Current key")
    def key(self, provider):
        return provider.masked_key() or "—"

    @admin.display(description="Current headers")
    def headers(self, provider):
        names = provider.header_names()
        if names is None:
            return "unreadable: not encrypted under any of FERNET_KEYS"
        return ", ".join(names) or "—"

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset):
        for provider in queryset:
            try:
                ids = provider.fetch_model_ids()
            except (UpstreamError, SecretUnreadable) as error:
                self.message_user(request, safe_message(provider, error), messages.ERROR)
                continue
            self.message_user(
                request,
                f"{provider.name}: Connected: {plural(len(ids), 'model')}",
                messages.SUCCESS,
            )

    @admin.action(description="Discover models")
    def discover_models(self, request, queryset):
        for provider in queryset:
            try:
                created, existing = provider.discover_models()
            except (UpstreamError, SecretUnreadable) as error:
                self.message_user(request, safe_message(provider, error), messages.ERROR)
                continue
            message = f"{provider.name}: {plural(len(created), 'new model')} added"
            if created:
                message += " (disabled: enable the ones users should see)"
            message += f", {len(existing)} already known."
            self.message_user(request, message, messages.SUCCESS)


class EndpointFilter(admin.SimpleListFilter):
    title = "endpoint"
    parameter_name = "endpoint"

    def lookups(self, request, model_admin):
        return [(endpoint, endpoint.capitalize()) for endpoint in ENDPOINTS]

    def queryset(self, request, queryset):
        if self.value() in ENDPOINTS:
            return queryset.for_endpoint(self.value())
        return queryset


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = [
        "display_name",
        "upstream_id",
        "provider",
        "endpoint_list",
        "enabled",
        "is_default",
        "position",
        "input_price_per_mtok",
        "output_price_per_mtok",
    ]
    list_editable = ["enabled", "position", "input_price_per_mtok", "output_price_per_mtok"]
    list_filter = ["provider", "enabled", EndpointFilter, "is_default"]
    list_select_related = ["provider"]
    search_fields = ["display_name", "upstream_id"]
    readonly_fields = ["uuid"]
    actions = ["enable", "disable"]

    @admin.display(description="Endpoints")
    def endpoint_list(self, model):
        return ", ".join(model.endpoints()) or "—"

    @admin.action(description="Enable selected models")
    def enable(self, request, queryset):
        count = queryset.update(enabled=True)
        self.message_user(request, f"{plural(count, 'model')} enabled.", messages.SUCCESS)

    @admin.action(description="Disable selected models")
    def disable(self, request, queryset):
        count = queryset.update(enabled=False)
        self.message_user(request, f"{plural(count, 'model')} disabled.", messages.SUCCESS)
