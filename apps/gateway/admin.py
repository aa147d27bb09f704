"""Staff see every gateway key and can revoke it. Never the secret: the model
does not have it, and the digest is left out too (it identifies nothing a
person needs)."""

from django.contrib import admin, messages

from .models import GatewayKey


@admin.register(GatewayKey)
class GatewayKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "owner", "created", "last_used", "revoked",
                    "requests_per_minute", "tokens_per_day", "expires"]
    list_filter = [("revoked", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "owner__username"]
    list_select_related = ["owner"]
    readonly_fields = ["prefix", "name", "owner", "created", "last_used", "revoked"]
    # Staff may tighten (or loosen, up to the site's maxima) a key's limits.
    fields = [*readonly_fields, "requests_per_minute", "tokens_per_day", "expires"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        # A key's secret is shown once, to whoever creates it: its owner, on
        # the keys page. Staff creating one would see a secret not theirs.
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        keys = list(queryset.filter(revoked__isnull=True))
        for key in keys:
            key.revoke()
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)
