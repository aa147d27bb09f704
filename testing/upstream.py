"""A real local HTTP server that speaks the OpenAI protocol, for tests.

It runs an asyncio loop in a daemon thread of the test process and listens on
127.0.0.1 (a free port). Because the behaviour lives in that thread, a client
in another process (the browser tests' forked daphne server) talks to the same
scripted upstream as the test itself.

HTTP/1.1 is written by hand on asyncio streams, so a test can do what a real
server does when it misbehaves: stream chunked SSE slowly, split JSON and
UTF-8 characters across network writes, stall, drop the connection mid-body,
or send garbage. Every response closes its connection (`Connection: close`),
which makes a client's disconnect visible as EOF on the socket.

Tests script it through the `upstream` fixture (testing/fixtures.py):

    upstream.behave(chunks=["Hel", "lo"], interval=0.05)   # every request from now on
    upstream.behave_once(status=429, retry_after=7)         # only the next request
    upstream.require_key("sk-test")                         # 401 without it
    upstream.requests[-1].json                              # what the client sent
    await upstream.wait_for_disconnect(1.0)                 # the client hung up
"""

import asyncio
import json
import re
import threading
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

CREATED = 1_700_000_000
FINGERPRINT = "fp_fake"
AZURE_PATH = re.compile(
    r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<endpoint>chat/completions|completions)$"
)
# Nothing in a test should wait this long; it only bounds a "stall forever".
STALL_LIMIT = 120.0


@dataclass
class Behaviour:
    """How the upstream answers. Every field has a default that gives a
    well-behaved OpenAI server; a test changes only what it is about."""

    # Output. `chunks` are the exact pieces streamed for choice 0 (a list per
    # choice with `choices`); otherwise `text` (or, by default, "Echo: " plus the
    # prompt / last user message) is split into word-sized chunks. With n > 1,
    # choice i gets "Echo #i: ..." so interleaved choices stay distinguishable.
    text: str | None = None
    chunks: list[str] | None = None
    choices: list[list[str]] | None = None
    count: int | None = None  # exactly this many chunks (the pieces above, repeated)
    finish_reason: str | None = None  # default: "stop", or "length" when max_tokens cut it
    # Chat only: tool calls to stream instead of text, e.g.
    # [{"name": "get_weather", "arguments": '{"city": "Paris"}'}]; arguments
    # arrive in several pieces, finish_reason becomes "tool_calls".
    tool_calls: list[dict] | None = None
    # "native": the endpoint's documented shape (legacy for completions, {content}
    # for chat); "chat": completions logprobs in the chat shape, as llama.cpp does.
    logprobs_shape: str = "native"
    usage: bool = True  # send the usage chunk when stream_options.include_usage

    # Timing.
    latency: float = 0.0  # before the status line
    interval: float = 0.0  # between SSE events

    # Failures before the body.
    status: int = 200
    error: Any = None  # a message (str) or the whole JSON error body (dict)
    retry_after: str | int | None = None
    headers: dict = field(default_factory=dict)
    body: Any = None  # a non-stream JSON body to send as is (any status)
    close_without_response: bool = False

    # Failures in the stream; each `*_after` counts SSE events already sent.
    drop_after: int | None = None  # close the socket mid-body (no chunked terminator)
    stall_after: int | None = None  # send nothing more until the client hangs up
    error_after: int | None = None  # send an error frame, then end the stream
    error_frame: dict | None = None  # default {"error": {"message": ..., "type": "server_error"}}
    malformed_after: int | None = None  # send `data: {not json`
    finish: bool = True  # send the finish_reason chunk(s)
    done: bool = True  # send `data: [DONE]`

    # Wire format.
    crlf: bool = False  # CRLF line ends
    comments: bool = False  # `: keep-alive` comment lines between events
    byte_chunks: int | None = None  # write the SSE body in pieces of this many bytes
    byte_delay: float = 0.002  # pause between those pieces so they arrive apart
    raw: list | None = None  # exact SSE body pieces (str/bytes) instead of generated events
    content_type: str = "text/event-stream; charset=utf-8"


@dataclass
class Received:
    method: str
    path: str
    query: dict  # name -> first value
    headers: dict  # lower-case names
    json: Any
    raw: bytes = b""

    @property
    def azure_deployment(self):
        match = AZURE_PATH.match(self.path)
        return match["deployment"] if match else None


class FakeUpstream:
    """The server. One per test session; `reset()` between tests."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="fake-upstream", daemon=True
        )
        self._lock = threading.Lock()
        self._server = None
        self.port = None
        self.reset()

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self.loop
        )
        self._server = future.result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self):
        async def close():
            self._server.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def reset(self):
        with self._lock:
            self._behaviour = Behaviour()
            self._once: list[Behaviour] = []
            self.requests: list[Received] = []
            self.models = ["echo-1", "echo-2"]
            self.keys: set[str] = set()
            self.disconnects = 0
            self.disconnected = threading.Event()
            self.open_streams = 0
            # Requests being answered right now, and the most there ever were
            # at once (a bound on concurrent requests is checked against it).
            self.in_flight = 0
            self.max_in_flight = 0

    # -- the scripting API -------------------------------------------------

    @property
    def base(self):
        """http://127.0.0.1:PORT (Azure targets use this as base_url)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self):
        """The OpenAI-style base URL, ending in /v1."""
        return f"{self.base}/v1"

    def behave(self, **options):
        """Answer every following request like this (until changed or reset)."""
        with self._lock:
            self._behaviour = Behaviour(**options)

    def behave_once(self, **options):
        """Answer the next request like this; queued, then back to `behave`."""
        with self._lock:
            self._once.append(Behaviour(**options))

    def require_key(self, *keys):
        """401 unless the request carries one of these keys (Bearer on OpenAI
        paths, the `api-key` header on Azure paths)."""
        with self._lock:
            self.keys = set(keys)

    @property
    def last(self) -> Received:
        return self.requests[-1]

    def wait_disconnect(self, timeout):
        """Block until a client closed its connection before the response ended."""
        return self.disconnected.wait(timeout)

    async def wait_for_disconnect(self, timeout):
        return await asyncio.to_thread(self.disconnected.wait, timeout)

    def _next_behaviour(self):
        with self._lock:
            return self._once.pop(0) if self._once else replace(self._behaviour)

    # -- HTTP --------------------------------------------------------------

    async def _handle(self, reader, writer):
        try:
            request = await self._read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            behaviour = self._next_behaviour()
            response = _Response(self, reader, writer)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await self._respond(request, behaviour, response)
            finally:
                self.in_flight -= 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _read_request(self, reader):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        raw = b""
        if "content-length" in headers:
            raw = await reader.readexactly(int(headers["content-length"]))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        return Received(method, parts.path, query, headers, body, raw)

    async def _respond(self, request, b, response):
        if b.latency:
            await response.sleep(b.latency)
        if b.close_without_response:
            return

        azure = AZURE_PATH.match(request.path)
        if not self._authorized(request, azure):
            message = "Incorrect API key provided: " + _mask(_sent_key(request, azure))
            return await response.json(
                401,
                {
                    "error": {
                        "message": message,
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
            )
        if (azure or request.path.startswith("/openai/")) and "api-version" not in request.query:
            return await response.json(
                404, {"error": {"code": "404", "message": "Resource not found"}}
            )

        if b.status != 200 or b.body is not None:
            return await response.json(b.status, _error_body(b), b.retry_after, b.headers)

        if request.method == "GET" and request.path in ("/v1/models", "/openai/models"):
            data = [
                {"id": m, "object": "model", "created": CREATED, "owned_by": "fake"}
                for m in self.models
            ]
            return await response.json(200, {"object": "list", "data": data}, headers=b.headers)

        if request.method == "POST" and (
            azure or request.path in ("/v1/completions", "/v1/chat/completions")
        ):
            chat = (azure["endpoint"] if azure else request.path).endswith("chat/completions")
            body = request.json if isinstance(request.json, dict) else {}
            model = azure["deployment"] if azure else body.get("model", "echo-1")
            plan = _Plan(b, body, chat, model)
            if body.get("stream"):
                return await self._stream(plan, b, response)
            return await response.json(200, plan.whole(), headers=b.headers)

        await response.json(
            404, {"error": {"message": f"no route for {request.method} {request.path}"}}
        )

    def _authorized(self, request, azure):
        if not self.keys:
            return True
        return _sent_key(request, azure) in self.keys

    async def _stream(self, plan, b, response):
        await response.start_stream(b.content_type, b.headers)
        newline = "\r\n" if b.crlf else "\n"

        def frame(payload):
            data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            text = f"data: {data}{newline}{newline}"
            if b.comments:
                text = f": keep-alive{newline}" + text
            return text

        if b.raw is not None:
            for piece in b.raw:
                await response.send(piece if isinstance(piece, bytes) else piece.encode(), b)
                if b.interval:
                    await response.sleep(b.interval)
            return await response.end()

        sent = 0
        for event in plan.events():
            if b.drop_after is not None and sent >= b.drop_after:
                return response.abort()
            if b.stall_after is not None and sent >= b.stall_after:
                return await response.stall()
            if b.error_after is not None and sent >= b.error_after:
                error = b.error_frame or {
                    "error": {
                        "message": "The server had an error while processing your request.",
                        "type": "server_error",
                    }
                }
                await response.send(frame(error).encode(), b)
                return await response.end()
            if b.malformed_after is not None and sent >= b.malformed_after:
                await response.send(frame('{"choices": [{"text": "oops"').encode(), b)
                return await response.end()
            if sent and b.interval:
                await response.sleep(b.interval)
            await response.send(frame(event).encode(), b)
            sent += 1
        if b.drop_after is not None and sent >= b.drop_after:
            return response.abort()
        if b.stall_after is not None:
            return await response.stall()
        if b.done:
            await response.send(frame("[DONE]").encode(), b)
        await response.end()


class _Response:
    """Writes one HTTP response and watches for the client hanging up."""

    def __init__(self, upstream, reader, writer):
        self.upstream = upstream
        self.writer = writer
        self.gone = asyncio.Event()
        self.finished = False
        self._watch = asyncio.ensure_future(self._watch_eof(reader))

    async def _watch_eof(self, reader):
        # The client sent its whole request; the next thing it can do on this
        # socket is close it. EOF (or a reset) before we finished = a disconnect.
        try:
            await reader.read(1)
        except ConnectionError:
            pass
        self.gone.set()
        if not self.finished:
            with self.upstream._lock:
                self.upstream.disconnects += 1
            self.upstream.disconnected.set()

    async def sleep(self, seconds):
        try:
            await asyncio.wait_for(self.gone.wait(), seconds)
        except TimeoutError:
            return
        raise ConnectionResetError("client went away")

    async def _write(self, data):
        if self.gone.is_set():
            raise ConnectionResetError("client went away")
        self.writer.write(data)
        await self.writer.drain()

    async def json(self, status, body, retry_after=None, headers=None):
        payload = (
            json.dumps(body).encode()
            if not isinstance(body, (bytes, str))
            else (body if isinstance(body, bytes) else body.encode())
        )
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
            "Connection: close",
        ]
        head += [f"{k}: {v}" for k, v in extra.items()]
        self.finished = True
        await self._write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)

    async def start_stream(self, content_type, headers):
        head = [
            "HTTP/1.1 200 OK",
            f"Content-Type: {content_type}",
            "Cache-Control: no-cache",
            "Transfer-Encoding: chunked",
            "Connection: close",
        ]
        head += [f"{k}: {v}" for k, v in headers.items()]
        await self._write(("\r\n".join(head) + "\r\n\r\n").encode())

    async def send(self, data: bytes, b: Behaviour):
        pieces = [data]
        if b.byte_chunks:
            pieces = [data[i : i + b.byte_chunks] for i in range(0, len(data), b.byte_chunks)]
        for i, piece in enumerate(pieces):
            if i:
                await self.sleep(b.byte_delay)
            # One HTTP chunk per network write, so the client sees the pieces apart.
            await self._write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")

    async def end(self):
        self.finished = True
        await self._write(b"0\r\n\r\n")

    def abort(self):
        # No chunked terminator: the body is incomplete, as when a proxy dies.
        self.finished = True
        self.writer.transport.abort()

    async def stall(self):
        await self.sleep(STALL_LIMIT)


class _Plan:
    """The deterministic answer to one request, as a whole or as SSE events."""

    def __init__(self, b: Behaviour, body: dict, chat: bool, model: str):
        self.b, self.body, self.chat, self.model = b, body, chat, model
        # A list of prompts gets n choices each, in OpenAI's order (choice i
        # answers prompt i // n), as one request.
        prompt = body.get("prompt")
        several = (not chat and isinstance(prompt, list) and len(prompt) > 1
                   and not isinstance(prompt[0], int))
        self.prompts = [_prompt_text({"prompt": p}, chat) for p in prompt] if several else None
        self.per_prompt = body.get("n") or 1
        self.n = self.per_prompt * (len(self.prompts) if several else 1)
        self.prompt = _prompt_text(body, chat)
        self.id = ("chatcmpl-" if chat else "cmpl-") + "fake"
        if chat:
            self.want_logprobs = bool(body.get("logprobs"))
            self.top = body.get("top_logprobs") or 0
        else:
            self.want_logprobs = body.get("logprobs") is not None
            self.top = body.get("logprobs") or 0
        self.pieces, self.reasons = [], []
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        for i in range(self.n):
            pieces = self._pieces(i)
            reason = "tool_calls" if (chat and b.tool_calls) else "stop"
            if max_tokens and len(pieces) > max_tokens and not (chat and b.tool_calls):
                pieces, reason = pieces[:max_tokens], "length"
            self.pieces.append(pieces)
            self.reasons.append(b.finish_reason or reason)

    def _pieces(self, i):
        b = self.b
        if b.choices is not None:
            pieces = list(b.choices[i])
        elif b.chunks is not None:
            pieces = list(b.chunks)
        elif b.text is not None:
            pieces = _words(b.text)
        else:
            label = "Echo" if self.n == 1 else f"Echo #{i}"
            prompt = self.prompts[i // self.per_prompt] if self.prompts else self.prompt
            pieces = _words(f"{label}: {prompt}")
        if b.count is not None:
            pieces = [pieces[k % len(pieces)] for k in range(b.count)]
        return pieces

    def _base(self):
        return {
            "id": self.id,
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": CREATED,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
        }

    def _usage(self):
        completion = sum(len(p) for p in self.pieces)
        prompt = max(1, len(self.prompt.split()))
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _logprobs(self, pieces, start, offset):
        """Deterministic logprobs for `pieces`, the first being token `start`."""
        tokens = list(pieces)
        values = [-round(0.1 * (start + k + 1), 4) for k in range(len(tokens))]
        # The sampled token first, then made-up alternatives, `top` in all.
        tops = [
            ([(t, v)] + [(f"{t.strip() or '_'}~{j}", round(v - j, 4)) for j in range(1, self.top)])[
                : self.top
            ]
            for t, v in zip(tokens, values, strict=False)
        ]
        if self.chat or self.b.logprobs_shape == "chat":

            def item(t, v):
                return {"token": t, "logprob": v, "bytes": list(t.encode())}

            return {
                "content": [
                    {**item(t, v), "top_logprobs": [item(a, w) for a, w in top]}
                    for t, v, top in zip(tokens, values, tops, strict=False)
                ]
            }
        offsets, at = [], offset
        for t in tokens:
            offsets.append(at)
            at += len(t)
        return {
            "tokens": tokens,
            "token_logprobs": values,
            "top_logprobs": [dict(top) for top in tops],
            "text_offset": offsets,
        }

    def _prompt_offset(self):
        return len(self.prompt) if isinstance(self.body.get("prompt"), str) else 0

    def whole(self):
        """The non-streaming response."""
        b, choices = self.b, []
        for i, pieces in enumerate(self.pieces):
            text = "".join(pieces)
            lp = self._logprobs(pieces, 0, self._prompt_offset()) if self.want_logprobs else None
            if self.chat:
                message = {"role": "assistant", "content": None if b.tool_calls else text}
                if b.tool_calls:
                    message["tool_calls"] = [
                        {
                            "id": f"call_{k}",
                            "type": "function",
                            "function": {"name": c["name"], "arguments": c["arguments"]},
                        }
                        for k, c in enumerate(b.tool_calls)
                    ]
                choices.append(
                    {
                        "index": i,
                        "message": message,
                        "logprobs": lp,
                        "finish_reason": self.reasons[i],
                    }
                )
            else:
                choices.append(
                    {"text": text, "index": i, "logprobs": lp, "finish_reason": self.reasons[i]}
                )
        base = self._base()
        base["object"] = "chat.completion" if self.chat else "text_completion"
        return {**base, "choices": choices, "usage": self._usage()}

    def events(self):
        """The streamed chunks: choices interleaved round-robin, then the
        finish chunks, then the usage chunk when it was asked for."""
        b = self.b
        include_usage = b.usage and bool(
            (self.body.get("stream_options") or {}).get("include_usage")
        )
        extra = {"usage": None} if include_usage else {}
        if self.chat and b.tool_calls:
            yield from self._tool_call_events(extra)
        else:
            offsets = [self._prompt_offset()] * self.n
            for step in range(max(map(len, self.pieces), default=0)):
                for i, pieces in enumerate(self.pieces):
                    if step >= len(pieces):
                        continue
                    piece = pieces[step]
                    lp = self._logprobs([piece], step, offsets[i]) if self.want_logprobs else None
                    offsets[i] += len(piece)
                    if self.chat:
                        delta = {"content": piece}
                        if step == 0:
                            delta = {"role": "assistant", "content": piece}
                        choice = {"index": i, "delta": delta, "logprobs": lp, "finish_reason": None}
                    else:
                        choice = {"text": piece, "index": i, "logprobs": lp, "finish_reason": None}
                    yield {**self._base(), "choices": [choice], **extra}
        if b.finish:
            for i in range(self.n):
                if self.chat:
                    choice = {
                        "index": i,
                        "delta": {},
                        "logprobs": None,
                        "finish_reason": self.reasons[i],
                    }
                else:
                    choice = {
                        "text": "",
                        "index": i,
                        "logprobs": None,
                        "finish_reason": self.reasons[i],
                    }
                yield {**self._base(), "choices": [choice], **extra}
            if include_usage:
                yield {**self._base(), "choices": [], "usage": self._usage()}

    def _tool_call_events(self, extra):
        for i in range(self.n):
            yield {
                **self._base(),
                "choices": [
                    {
                        "index": i,
                        "delta": {"role": "assistant", "content": None},
                        "finish_reason": None,
                    }
                ],
                **extra,
            }
            for k, call in enumerate(self.b.tool_calls):
                first = {
                    "index": k,
                    "id": f"call_{k}",
                    "type": "function",
                    "function": {"name": call["name"], "arguments": ""},
                }
                yield {
                    **self._base(),
                    "choices": [
                        {"index": i, "delta": {"tool_calls": [first]}, "finish_reason": None}
                    ],
                    **extra,
                }
                args = call["arguments"]
                for piece in [args[j : j + 8] for j in range(0, len(args), 8)]:
                    delta = {"tool_calls": [{"index": k, "function": {"arguments": piece}}]}
                    yield {
                        **self._base(),
                        "choices": [{"index": i, "delta": delta, "finish_reason": None}],
                        **extra,
                    }


def _words(text):
    """Split text into word-sized chunks that join back to it exactly."""
    return re.findall(r"\s*\S+|\s+", text) or [text]


def _prompt_text(body, chat):
    if chat:
        for message in reversed(body.get("messages") or []):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, list):
                    content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
                return str(content or "")
        return ""
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        return " ".join(str(p) for p in prompt)
    return str(prompt or "")


def _sent_key(request, azure):
    if azure or request.path.startswith("/openai/"):
        return request.headers.get("api-key", "")
    auth = request.headers.get("authorization", "")
    return auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""


def _mask(key):
    # Like OpenAI: enough of the key to recognise it. The adapter must never
    # show this message to a user (it contains part of the key).
    return f"{key[:3]}***{key[-4:]}" if len(key) > 8 else key


def _error_body(b: Behaviour):
    if b.body is not None:
        return b.body
    if isinstance(b.error, dict):
        return b.error
    message = b.error or f"fake upstream error {b.status}"
    kind = "invalid_request_error" if 400 <= b.status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
