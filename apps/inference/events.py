"""The normalized events that `apps.inference.stream()` yields.

Every backend's stream (OpenAI-compatible SSE, Azure, the embedded llama.cpp
server) becomes this one small vocabulary, so the websocket consumer and the
gateway never look at a provider's wire format.
"""

from dataclasses import dataclass, field


@dataclass
class Meta:
    """Sent once, before the first delta: what the upstream says about itself."""

    id: str | None = None
    model: str | None = None
    created: int | None = None
    system_fingerprint: str | None = None


@dataclass
class Delta:
    """New output for one choice.

    `text` is the completion text (completions) or the message content (chat).
    `role` is set on a chat choice's first delta. `tool_calls` is the list of
    tool-call deltas as OpenAI sends them ({index, id, type, function: {name,
    arguments}}; arguments arrive in pieces). `logprobs` is this delta's share
    of the logprobs in the endpoint's documented shape: for completions the
    legacy {tokens, token_logprobs, top_logprobs, text_offset}; for chat
    {content: [{token, logprob, bytes, top_logprobs}]}.
    """

    index: int
    text: str = ""
    role: str | None = None
    tool_calls: list | None = None
    logprobs: dict | None = None


@dataclass
class Finish:
    index: int
    reason: str | None


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    raw: dict = field(default_factory=dict)


@dataclass
class Notice:
    """Something the user should know that is not an error, e.g. a field the
    model does not accept was dropped from the request."""

    message: str
    field: str | None = None


@dataclass
class Error:
    """The run failed. Always the last event of a stream.

    `code` is one of: unreachable, timeout, auth, not_found, bad_request,
    rate_limited, upstream (5xx, or the stream ended before every choice
    finished), protocol (malformed stream, error frame).
    `message` is safe to show a user: it never holds a key, a secret header
    or a URL with credentials. `param` names the request field at fault, when
    one is (a bad_request the adapter refused before sending).
    """

    message: str
    code: str
    status: int | None = None
    retry_after: float | None = None
    param: str | None = None


Event = Meta | Delta | Finish | Usage | Notice | Error
