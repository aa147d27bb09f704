"""The backend inference adapter: the only code that talks to a model.

    sent, notices = prepare(target, "chat", body, stream=True)  # the wire body
    async for event in stream(target, "chat", body): ...   # events.py
    response = await complete(target, "completions", body)
    ids = await list_models(target)

client.py follows one run from request to events; errors.py, logprobs.py and
local.py (the embedded model) hold the details.
"""

from .client import complete, list_models, prepare, stream
from .errors import UpstreamError
from .events import Delta, Error, Event, Finish, Meta, Notice, Usage
from .target import Target, Timeouts

__all__ = [
    "stream",
    "prepare",
    "complete",
    "list_models",
    "UpstreamError",
    "Target",
    "Timeouts",
    "Event",
    "Meta",
    "Delta",
    "Finish",
    "Usage",
    "Notice",
    "Error",
]
