"""Opening a form in the playground without saving anything first."""


class Draft:
    """A form for studio's playground page that is not a conversation yet:
    the page shows it, and the first Run creates a new conversation of the
    user's own. Opening a preset or re-running a past run leaves nothing
    behind until Run is pressed."""

    def __init__(self, mode, model_uuid, body, title="", tool_mocks=None):
        self.mode = mode
        self.form = {"model": str(model_uuid or ""), "body": dict(body)}
        self.title = title
        # The tool-call loop's saved results (a preset's): the page shows them.
        self.tool_mocks = tool_mocks or {}

    def __str__(self):
        return self.title


def open_in_playground(request, draft):
    # Studio owns the page.
    from apps.studio.views import playground

    return playground(request, draft.mode, form=draft.form, title=draft.title,
                      tool_mocks=draft.tool_mocks)
