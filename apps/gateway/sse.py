"""The streamed answer: OpenAI's server-sent events, rebuilt from the adapter's
normalized events (so every backend streams the same way to the client).

    data: {"id": ..., "object": "chat.completion.chunk", "choices": [...]}\n\n
    ...
    data: [DONE]\n\n

- One chunk per Delta or Finish, for one choice; a chat choice's first chunk
  carries `"role": "assistant"`, and each choice ends with a chunk holding
  only its finish_reason.
- With `stream_options.include_usage`, every chunk has `"usage": null` and a
  last chunk has the usage and `"choices": []` (OpenAI's schema, doc 003).
- An error after the stream started is a frame `data: {"error": {...}}` and
  then the end of the body, without [DONE]: the openai SDK raises APIError on
  that frame, and for any client [DONE] keeps meaning "complete". A run
  stopped mid-stream (the server shutting down, its owner's Stop) ends the
  same way (errors.stopped).
"""

import json
from contextlib import aclosing

from django.http import StreamingHttpResponse

from apps.inference import Delta, Error, Finish, Meta, Usage
from apps.runs.protocol import Ended

from . import errors

DONE = b"data: [DONE]\n\n"
LINE_BREAKS = [(c.encode(), f"\\u{ord(c):04x}".encode()) for c in "\u0085\u2028\u2029"]


def frame(payload: dict) -> bytes:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


class Chunks:
    """Builds the chunk objects of one call."""

    def __init__(self, endpoint, include_usage):
        self.chat = endpoint == "chat"
        self.include_usage = include_usage
        self.head = {}
        self.roled = set()  # chat choices whose role was sent

    def frame(self, event) -> bytes | None:
        chunk = self.chunk(event)
        if chunk is None:
            return None
        data = frame(chunk)
        # U+0085, U+2028 and U+2029 end a line for str.splitlines() (httpx's
        # iter_lines() among other clients' line readers), though not for SSE:
        # written as JSON escapes, one event stays one line for every reader.
        # (Only non-ASCII text can hold them: most chunks skip the scans.)
        if not data.isascii():
            for char, escape in LINE_BREAKS:
                data = data.replace(char, escape)
        return data

    def chunk(self, event) -> dict | None:
        if isinstance(event, Meta):
            self.head = {
                "id": event.id,
                "object": "chat.completion.chunk" if self.chat else "text_completion",
                "created": event.created,
                "model": event.model,
            }
            if event.system_fingerprint:
                self.head["system_fingerprint"] = event.system_fingerprint
            return None
        if isinstance(event, Delta):
            return self._choice(event.index, event, None)
        if isinstance(event, Finish):
            return self._choice(event.index, None, event.reason)
        if isinstance(event, Usage) and self.include_usage:
            usage = {
                "prompt_tokens": event.prompt_tokens,
                "completion_tokens": event.completion_tokens,
                "total_tokens": event.total_tokens,
            }
            return {**self.head, "choices": [], "usage": usage}
        return None  # Notices are recorded on the Run, not streamed

    def _choice(self, index, delta, finish_reason):
        logprobs = delta.logprobs if delta else None
        if self.chat:
            body = {}
            if index not in self.roled:
                self.roled.add(index)
                # As OpenAI's first delta: role, empty content, and refusal null.
                body = {"role": (delta and delta.role) or "assistant", "content": "",
                        "refusal": None}
            if delta:
                if delta.text:
                    body["content"] = delta.text
                if delta.tool_calls:
                    body["tool_calls"] = delta.tool_calls
            choice = {"index": index, "delta": body, "logprobs": logprobs}
        else:
            choice = {"text": delta.text if delta else "", "index": index, "logprobs": logprobs}
        choice["finish_reason"] = finish_reason
        chunk = {**self.head, "choices": [choice]}
        if self.include_usage:
            chunk["usage"] = None
        return chunk


class Frames:
    """The frames of one streamed answer, event by event. The last frame
    ([DONE] or the error) is the one for Ended, that is once the Run is
    stored: a client that has seen the end of the stream finds its record."""

    def __init__(self, endpoint, include_usage):
        self.chunks = Chunks(endpoint, include_usage)
        self.error = None

    def frame(self, event) -> bytes | None:
        if isinstance(event, Ended):
            if self.error:
                return frame(errors.from_upstream(self.error).body())
            if stopped := errors.stopped(event.status):
                return frame(stopped.body())  # stopped mid-stream: not complete
            return DONE
        if isinstance(event, Error):
            self.error = event  # the last event before Ended
            return None
        return self.chunks.frame(event)


class EventStream(StreamingHttpResponse):
    """The streamed answer: the events already read (`head`, up to the first
    token), then the rest of the run's (`watched`, an engine.Watched).

    The /v1 handler (playground/api.py) hands it its ASGI `send` as
    `sender`: the rest of the frames are then sent by the run's own task as
    the run publishes them (Watched.forward), not passed through a queue to
    the response's task. Served by another handler (Django's own), it is an
    ordinary iterator of frames."""

    def __init__(self, endpoint, include_usage, head, watched):
        self.frames = Frames(endpoint, include_usage)
        self.head = head
        self.watched = watched
        self.sender = None
        super().__init__(self._content(), content_type="text/event-stream")
        self["Cache-Control"] = "no-cache"
        # Reverse proxies (nginx) must pass each event on at once.
        self["X-Accel-Buffering"] = "no"

    async def _content(self):
        async with aclosing(self.watched):  # detached, however this ends
            for event in self.head:
                if data := self.frames.frame(event):
                    yield data
            if self.sender is not None:
                # The head's frames were sent (Django's writer sends each
                # part before asking for the next); the rest from the run.
                await self.watched.forward(self._send)
                return
            async for event in self.watched:
                if data := self.frames.frame(event):
                    yield data

    async def _send(self, event):
        if data := self.frames.frame(event):
            await self.sender({"type": "http.response.body", "body": data, "more_body": True})
