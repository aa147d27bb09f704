from django.contrib import admin

from .models import Comparison, PaneRun


class PaneRunInline(admin.TabularInline):
    model = PaneRun
    extra = 0
    fields = ["round", "pane", "run"]
    readonly_fields = fields
    can_delete = False


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ["title", "mode", "owner", "blind", "updated"]
    list_filter = ["mode", "blind"]
    search_fields = ["title", "owner__username"]
    # A record of what was compared: staff read it, nobody edits it.
    readonly_fields = ["uuid", "owner", "mode", "title", "shared_input", "panes", "blind",
                       "share_token", "created", "updated"]
    inlines = [PaneRunInline]

    def has_add_permission(self, request):
        return False
