"""Turn the adapter's event stream back into one documented response.

The consumer and the gateway feed every event to an Assembly as it arrives;
whenever the run ends (done, stopped, dropped, failed) the Assembly holds what
arrived so far in the shape the non-streaming endpoint documents, plus the
timings. That is what a Run stores.
"""

import copy
import time

from apps.inference.events import Delta, Error, Finish, Meta, Notice, Usage


def prompt_text(endpoint, body):
    """The prompt of a clean request body as plain text, for history's search
    and lists (text content blocks included, token-id prompts left out)."""
    if endpoint == "completions":
        prompt = body["prompt"]
        if isinstance(prompt, str):
            return prompt
        return "\n\n".join(p for p in prompt if isinstance(p, str))
    parts = []
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(b.get("text", "") for b in content if isinstance(b, dict))
    return "\n\n".join(parts)


class Choice:
    def __init__(self, index):
        self.index = index
        self.text = []
        self.role = None
        self.tool_calls = {}  # tool-call index -> merged call
        self.logprobs = None
        self.finish_reason = None

    def add(self, delta):
        if delta.text:
            self.text.append(delta.text)
        if delta.role:
            self.role = delta.role
        for call in delta.tool_calls or ():
            merged = self.tool_calls.setdefault(
                call.get("index", len(self.tool_calls)),
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
            )
            if call.get("id"):
                merged["id"] = call["id"]
            if call.get("type"):
                merged["type"] = call["type"]
            function = call.get("function") or {}
            if function.get("name"):
                merged["function"]["name"] += function["name"]
            if function.get("arguments"):
                merged["function"]["arguments"] += function["arguments"]
        if delta.logprobs:
            self._add_logprobs(delta.logprobs)

    def _add_logprobs(self, logprobs):
        # Both documented shapes are dicts of lists: concatenating list by list
        # rebuilds the whole-response logprobs from the per-chunk pieces.
        if self.logprobs is None:
            self.logprobs = {}
        for key, value in logprobs.items():
            if isinstance(value, list):
                self.logprobs.setdefault(key, []).extend(value)
            else:
                self.logprobs.setdefault(key, value)

    @property
    def content(self):
        return "".join(self.text)

    def as_completion(self):
        return {
            "text": self.content,
            "index": self.index,
            "logprobs": self.logprobs,
            "finish_reason": self.finish_reason,
        }

    def as_chat(self):
        # refusal is required by OpenAI's schema (null: the model did not refuse);
        # strict clients reject a message without it.
        message = {"role": self.role or "assistant", "content": self.content, "refusal": None}
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
            if not message["content"]:
                message["content"] = None
        return {
            "index": self.index,
            "message": message,
            "logprobs": self.logprobs,
            "finish_reason": self.finish_reason,
        }


class Assembly:
    def __init__(self, endpoint, clock=time.monotonic):
        self.endpoint = endpoint
        self.clock = clock
        self.started = clock()
        self.first_token_at = None
        self.ended_at = None
        self.meta = Meta()
        self.choices = {}
        self.usage = None
        self.notices = []
        self.error = None
        self.delta_count = 0

    def add(self, event):
        if isinstance(event, Delta):
            if self.first_token_at is None and (event.text or event.tool_calls):
                self.first_token_at = self.clock()
            self.delta_count += 1
            self.choice(event.index).add(event)
        elif isinstance(event, Finish):
            self.choice(event.index).finish_reason = event.reason
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Meta):
            self.meta = event
        elif isinstance(event, Notice):
            self.notices.append({"field": event.field, "message": event.message})
        elif isinstance(event, Error):
            self.error = event

    def choice(self, index):
        if index not in self.choices:
            self.choices[index] = Choice(index)
        return self.choices[index]

    def end(self):
        if self.ended_at is None:
            self.ended_at = self.clock()

    @property
    def ttft_ms(self):
        if self.first_token_at is None:
            return None
        return (self.first_token_at - self.started) * 1000

    @property
    def duration_ms(self):
        end = self.ended_at if self.ended_at is not None else self.clock()
        return (end - self.started) * 1000

    def tokens_per_s(self):
        """Generated tokens per second after the first token arrived. Uses the
        upstream's usage when it sent one, else one token per delta (how
        OpenAI-style servers stream)."""
        if self.first_token_at is None:
            return None
        end = self.ended_at if self.ended_at is not None else self.clock()
        tokens = self.usage.completion_tokens if self.usage else self.delta_count
        elapsed = end - self.first_token_at
        if elapsed <= 0 or tokens <= 1:
            return None
        # The first token's arrival starts the clock, so it is not counted.
        return (tokens - 1) / elapsed

    def response(self):
        choices = [self.choices[i] for i in sorted(self.choices)]
        body = {
            "id": self.meta.id,
            "object": "text_completion" if self.endpoint == "completions" else "chat.completion",
            "created": self.meta.created,
            "model": self.meta.model,
            "choices": [
                c.as_completion() if self.endpoint == "completions" else c.as_chat()
                for c in choices
            ],
        }
        if self.usage is not None:
            body["usage"] = {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
            }
        if self.meta.system_fingerprint:
            body["system_fingerprint"] = self.meta.system_fingerprint
        return body

    def output_text(self):
        return "\n\n".join(self.choices[i].content for i in sorted(self.choices))

    def snapshot(self):
        """What arrived so far, frozen: safe to store from another thread while
        this Assembly keeps growing on the event loop (a checkpoint)."""
        response = self.response()
        for choice in response["choices"]:
            message = choice.get("message") or {}
            if message.get("tool_calls"):
                message["tool_calls"] = copy.deepcopy(message["tool_calls"])
            if choice.get("logprobs"):
                choice["logprobs"] = {
                    k: list(v) if isinstance(v, list) else v for k, v in choice["logprobs"].items()
                }
        return Snapshot(
            response, self.output_text(), list(self.notices), self.usage, self.error,
            self.ttft_ms, self.duration_ms, self.tokens_per_s(),
        )


class Snapshot:
    """An Assembly's state at one moment, with the same reading interface."""

    def __init__(self, response, text, notices, usage, error, ttft_ms, duration_ms, tps):
        self._response, self._text, self._tps = response, text, tps
        self.notices, self.usage, self.error = notices, usage, error
        self.ttft_ms, self.duration_ms = ttft_ms, duration_ms

    def response(self):
        return self._response

    def output_text(self):
        return self._text

    def tokens_per_s(self):
        return self._tps


def events_from_response(endpoint, response):
    """A whole (non-streamed) response as the events a stream of it would
    give, so one path shows and stores both."""
    yield Meta(
        id=response.get("id"),
        model=response.get("model"),
        created=response.get("created"),
        system_fingerprint=response.get("system_fingerprint"),
    )
    for choice in response.get("choices", []):
        index = choice.get("index", 0)
        if endpoint == "completions":
            yield Delta(index=index, text=choice.get("text") or "", logprobs=choice.get("logprobs"))
        else:
            message = choice.get("message") or {}
            yield Delta(
                index=index,
                role=message.get("role"),
                text=message.get("content") or "",
                tool_calls=[dict(c, index=i) for i, c in enumerate(message.get("tool_calls") or [])]
                or None,
                logprobs=choice.get("logprobs"),
            )
        yield Finish(index=index, reason=choice.get("finish_reason"))
    usage = response.get("usage")
    if usage:
        yield Usage(
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            total_tokens=usage.get("total_tokens", 0),
            raw=usage,
        )
