"""The engine's events as plain dicts.

`message()` is what the playground's websocket sends the page (every message
names its run and carries its sequence number); `encode()`/`decode()` carry
events unchanged between processes over the channel layer (msgpack-able).
"""

from dataclasses import asdict, dataclass

from apps.inference.events import Delta, Error, Finish, Meta, Notice, Usage


@dataclass
class Ended:
    """The run is over and stored: always the last event of a run."""

    status: str


KINDS = {cls.__name__: cls for cls in (Meta, Delta, Finish, Usage, Notice, Error, Ended)}


def encode(event) -> dict:
    return {"kind": type(event).__name__, **asdict(event)}


def decode(data: dict):
    data = dict(data)
    return KINDS[data.pop("kind")](**data)


def message(run, seq, event) -> dict:
    """The websocket message for one event of run `run` (a uuid string)."""
    head = {"run": run, "seq": seq}
    if isinstance(event, Delta):
        message = {"type": "delta", **head, "index": event.index, "text": event.text}
        if event.role:
            message["role"] = event.role
        if event.tool_calls:
            message["tool_calls"] = event.tool_calls
        if event.logprobs:
            message["logprobs"] = event.logprobs
        return message
    if isinstance(event, Finish):
        return {"type": "finish", **head, "index": event.index, "reason": event.reason}
    if isinstance(event, Usage):
        return {
            "type": "usage",
            **head,
            "prompt_tokens": event.prompt_tokens,
            "completion_tokens": event.completion_tokens,
            "total_tokens": event.total_tokens,
        }
    if isinstance(event, Notice):
        return {"type": "notice", **head, "field": event.field, "message": event.message}
    if isinstance(event, Error):
        return {"type": "error", **head, "message": event.message, "code": event.code}
    if isinstance(event, Meta):
        return {"type": "meta", **head, "model": event.model, "id": event.id}
    if isinstance(event, Ended):
        return {"type": "done", **head, "status": event.status}
    raise TypeError(event)
