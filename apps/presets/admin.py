from django.contrib import admin

from .models import Preset, PresetVersion


class PresetVersionInline(admin.TabularInline):
    model = PresetVersion
    extra = 0
    fields = ["number", "name", "mode", "model", "model_name", "body", "created"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "mode", "shared", "updated"]
    list_filter = ["mode"]
    search_fields = ["name", "description", "owner__username", "uuid"]
    readonly_fields = ["uuid", "owner", "mode", "forked_from", "created", "updated"]
    fields = ["uuid", "owner", "name", "description", "mode", "share_token", "forked_from",
              "created", "updated"]
    inlines = [PresetVersionInline]

    @admin.display(boolean=True)
    def shared(self, obj):
        return obj.is_shared


@admin.register(PresetVersion)
class PresetVersionAdmin(admin.ModelAdmin):
    list_display = ["preset", "number", "mode", "model_name", "created"]
    list_filter = ["mode"]
    search_fields = ["preset__name", "preset__owner__username", "model_name"]
    readonly_fields = [f.name for f in PresetVersion._meta.fields]

    def has_add_permission(self, request):
        return False
