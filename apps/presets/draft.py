"""Opening a form in the playground without saving anything first."""

from apps.history.models import Run


class Draft:
    """A form for studio's playground view that is not a conversation yet.

    It quacks like an unsaved Conversation with no runs: the page shows the
    form (and, for chat, its messages as the thread) and no conversation id,
    so the first Run creates a new conversation of the user's own. Opening a
    preset or re-running a past run leaves nothing behind until Run is pressed.
    """

    uuid = ""
    pk = None

    def __init__(self, mode, model_uuid, body, title=""):
        self.mode = mode
        self.form = {"model": str(model_uuid or ""), "body": dict(body)}
        self.title = title
        self.runs = Run.objects.none()

    def thread(self):
        messages = self.form["body"].get("messages")
        if isinstance(messages, list) and messages:
            return messages
        from apps.studio.views import DEFAULT_MESSAGES

        return DEFAULT_MESSAGES

    def __str__(self):
        return self.title


def open_in_playground(request, draft):
    # Studio owns the page; a Draft is all it needs to draw the form.
    from apps.studio.views import playground

    return playground(request, draft.mode, draft)
