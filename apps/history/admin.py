from django.contrib import admin

from .models import Conversation, Message, Run


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["position", "role", "name", "content", "tool_call_id"]
    readonly_fields = fields
    can_delete = False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["title", "mode", "owner", "updated"]
    list_filter = ["mode"]
    search_fields = ["title", "owner__username"]
    readonly_fields = ["uuid", "owner", "mode", "form", "created", "updated"]
    inlines = [MessageInline]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["created", "owner", "endpoint", "model_name", "status", "source", "ttft_ms"]
    list_filter = ["status", "endpoint", "source"]
    search_fields = ["uuid", "owner__username", "model_name", "gateway_key_prefix"]
    # History is a record of what happened: staff read it, nobody edits it.
    readonly_fields = [f.name for f in Run._meta.fields]

    def has_add_permission(self, request):
        return False
