"""The one place that sends a request to a model: HTTP, SSE, timeouts.

A run, start to end (`stream()`):

1. `resolve()`: a "local" Target gets the embedded server's URL (started on
   first use, see local.py).
2. `prepare()`: the catalogue body minus fields the model does not accept (each
   one becomes a Notice), its extras (keys outside the catalogue) forwarded or
   dropped as the provider's policy says, `model` set to the Target's, `stream`
   forced, and usage asked for (`stream_options.include_usage`) so a run always
   has metrics. `check()` refuses a request before it is sent (extras under
   the "refuse" policy; what the embedded model cannot do).
3. The request goes out on the event loop's shared, pooled httpx client;
   `Chunks` turns each SSE event into normalized events (events.py).
4. Any failure ends the stream with one Error event (errors.py); nothing
   upstream-related is raised to the consumer.

Timeouts (Target.timeouts): `connect` is httpx's; the others are deadlines we
keep ourselves around each wait, so we know which one passed: `first_byte`
from sending the request to the first SSE event, `between_chunks` between two
events, `total` for the whole response. (`: keep-alive` comments are not
events: a server that only pings is stalled.)

Cancelling the consumer (task.cancel(), or aclose() on the iterator) unwinds
through the `finally` that closes the response; an unfinished response's
connection is closed, not returned to the pool, so the upstream sees the
disconnect at once and can stop generating. A consumer that just stops
iterating should use `contextlib.aclosing()` so this happens immediately
rather than when the generator is garbage-collected.
"""

import asyncio
import functools
import json
import logging
import weakref
from contextlib import aclosing, suppress
from dataclasses import replace
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.request import getproxies

import httpx
from httpx_sse import EventSource, SSEError

from . import errors
from .errors import UpstreamError
from .events import Delta, Error, Finish, Meta, Notice, Usage
from .logprobs import chat_logprobs, completion_logprobs
from .transport import AiohttpTransport

log = logging.getLogger("apps.inference")

PATHS = {"completions": "completions", "chat": "chat/completions"}
# Never dropped: without them there is no request. stream/stream_options are
# set by the adapter itself.
ALWAYS_SENT = frozenset({"model", "prompt", "messages", "stream", "stream_options"})
# The catalogue fills in OpenAI's documented max_tokens (16) for a completions
# body that leaves it unset; a model that does not take max_tokens drops it
# without a Notice about a field the user never set.
DOCUMENTED_DEFAULT = ("completions", "max_tokens", 16)
# Target.unknown_fields: what happens to a body key the catalogue does not know.
FORWARD, DROP, REFUSE = "forward", "drop", "refuse"

# One pooled client per event loop: a client's connections belong to the loop
# that opened them, and daphne, Channels' sync-to-async threads and each test
# run their own loops. Keyed weakly, so a finished loop's client goes with it
# (closed as the loop ends: _close_with_loop, the task kept beside it).
_Entry = tuple[httpx.AsyncClient, asyncio.Task]  # the client, the task that closes it
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Entry]"
_clients = weakref.WeakKeyDictionary()
# Every streaming run holds one connection for its whole length: the pool must
# not be what caps how many runs a process streams at once.
LIMITS = httpx.Limits(max_connections=2048, max_keepalive_connections=64, keepalive_expiry=30)


def shared_client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client, _ = _clients.get(loop, (None, None))
    if client is None or client.is_closed:
        # aiohttp under httpx's API (transport.py): the same requests and
        # errors for half the CPU. Loopback (the embedded model, test
        # upstreams) never goes through an HTTP(S)_PROXY from the
        # environment; everything else may, and when one is set httpx
        # mounts its own transport for it (what it reads: getproxies()).
        direct = AiohttpTransport(LIMITS)
        mounts = {"all://127.0.0.1": direct, "all://localhost": direct}
        # Without a proxy every URL goes direct, and so does the client's
        # default transport: httpx's own would never be used, yet building
        # it (an SSL context) cost ~20-30 ms of the process's first run.
        proxied = bool({"http", "https", "all"} & getproxies().keys())  # NO_PROXY alone: none
        client = httpx.AsyncClient(
            limits=LIMITS,
            follow_redirects=False,
            # One client serves every user and key of the process: a cookie
            # an upstream sets must never go out with someone else's call.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            mounts=mounts,
            transport=None if proxied else direct,
        )
        # The loop holds its tasks weakly: this one is kept with its client.
        _clients[loop] = (client, loop.create_task(_close_with_loop(client)))
    return client


async def _close_with_loop(client):
    """Close `client` when its event loop ends: whoever ends a loop
    (asyncio.run, asgiref's threads, pytest) cancels the tasks left on it
    first, this one included, and an aiohttp session must be closed in its
    loop (else its connections leak and it logs "Unclosed client session").
    Its entry goes too: the task holds the loop, which would keep the weak
    key alive."""
    try:
        await asyncio.Future()
    finally:
        loop = asyncio.get_running_loop()
        if _clients.get(loop, (None,))[0] is client:
            del _clients[loop]
        await client.aclose()


async def close_shared_client():
    """Close this loop's client now: a server's clean stop, whose loop is
    stopped rather than ended with its tasks cancelled."""
    _, closer = _clients.get(asyncio.get_running_loop(), (None, None))
    if closer is not None:
        closer.cancel()  # _close_with_loop closes the client and drops its entry
        with suppress(asyncio.CancelledError):
            await closer


def _httpx_timeout(target):
    # Only connecting (and queueing for a pooled connection) is left to httpx;
    # reads are bounded by our own deadlines.
    t = target.timeouts
    return httpx.Timeout(connect=t.connect, read=None, write=t.connect, pool=t.connect)


async def resolve(target):
    """The Target with everything needed to send: the embedded server's URL
    and key for a "local" one (starting it if needed, in a thread: loading
    the model blocks for a moment)."""
    if target.kind != "local":
        return target
    from . import local

    # Once it runs, no thread hop on the way to the first token: the default
    # executor can be busy with other requests' sync work.
    base_url, api_key = local.running() or await asyncio.to_thread(local.ensure_started)
    accepted = target.accepted_fields
    return replace(
        target,
        base_url=base_url,
        api_key=api_key,
        model=target.model or local.local_model_id(),
        accepted_fields=local.LOCAL_ACCEPTED_FIELDS if accepted is None else accepted,
    )


def prepare(target, endpoint, body, *, stream) -> tuple[dict, list[Notice]]:
    """The body to send, and a Notice for each field the model does not accept.

    Public and free of I/O: the run engine calls it once, records its body as
    the Run's request and hands it to stream()/complete() as `prepared`, so
    what is recorded is what is sent."""
    if endpoint not in PATHS:
        raise ValueError(f"unknown endpoint {endpoint!r}")
    body = dict(body)
    notices = []
    extras = extras_of(target, endpoint, body)
    model, accepted = target.model, target.accepted_fields
    if target.kind == "local":
        from . import local

        # What resolve() would fill in, known without starting the server.
        model = model or local.local_model_id()
        accepted = local.LOCAL_ACCEPTED_FIELDS if accepted is None else accepted
    for name in extras:
        # The provider's policy, not the model's accepted fields, decides.
        # (Under REFUSE, check() refuses the request before it is built.)
        if target.unknown_fields == DROP:
            body.pop(name)
            notices.append(Notice(
                f"{name} is not a catalogue field and this provider drops such fields; "
                "it was not sent", field=name,
            ))
    if accepted is not None:
        for name in list(body):
            if name not in ALWAYS_SENT and name not in accepted and name not in extras:
                value = body.pop(name)
                if (endpoint, name, value) == DOCUMENTED_DEFAULT:
                    continue  # the caller did not set it: no news for the user
                notices.append(
                    Notice(f"{model} does not accept {name}; it was not sent", field=name)
                )
    if target.kind == "local":
        body = local.translate(body, endpoint)
    body["model"] = model
    if stream:
        body["stream"] = True
        if accepted is None or "stream_options" in accepted:
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    else:
        body.pop("stream", None)
        body.pop("stream_options", None)
    return body, notices


def extras_of(target, endpoint, body) -> list[str]:
    """The body's keys outside the catalogue (see Target.known_fields)."""
    known = (target.known_fields or {}).get(endpoint)
    if known is None:
        return []
    return [name for name in body if name not in known]


def check(target, endpoint, body):
    """Raise UpstreamError (bad_request, naming the field) for a request the
    model is known not to accept, before anything is sent."""
    if target.unknown_fields == REFUSE:
        for name in extras_of(target, endpoint, body):
            raise errors.refused(
                f"{name} is not a field of /v1/{PATHS[endpoint]}, and this provider takes no "
                "fields beyond the catalogue's (its policy for unknown fields is refuse)",
                name,
            )
    if target.kind == "local":
        from . import local

        if error := local.refusal(body, endpoint):
            raise error


def requested_top(endpoint, body):
    """How many alternatives per token the client asked for, or None when it
    asked for no logprobs (see logprobs.py)."""
    if endpoint == "chat":
        return (body.get("top_logprobs") or 0) if body.get("logprobs") is True else None
    return body.get("logprobs")


def url_for(target, endpoint=None) -> httpx.URL:
    """The request URL; endpoint None means the model list. Credentials in the
    base URL's userinfo are sent as Basic auth (see `auth_for`), not in the URL."""
    return _url(target.kind, target.base_url, target.model, target.api_version, endpoint)


# Parsed once per provider and endpoint, not per call (httpx.URL's parsing
# was ~2 % of a gateway call's CPU). httpx.URL is immutable.
@functools.lru_cache(maxsize=1024)
def _url(kind, base_url, model, api_version, endpoint):
    base = httpx.URL(base_url)
    path = base.path.rstrip("/")
    if kind == "azure":
        if endpoint is None:
            path += "/openai/models"
        else:
            path += f"/openai/deployments/{model}/{PATHS[endpoint]}"
        url = base.copy_with(username=None, password=None, path=path)
        return url.copy_merge_params({"api-version": api_version or ""})
    path += "/models" if endpoint is None else f"/{PATHS[endpoint]}"
    return base.copy_with(username=None, password=None, path=path)


def _build(client, *args, **kwargs):
    """client.build_request(), with a key or header httpx cannot encode (not
    ASCII) as a clear error rather than a crash (the admin refuses such
    values; an older row may still hold one)."""
    try:
        return client.build_request(*args, **kwargs)
    except (UnicodeEncodeError, ValueError):
        raise UpstreamError(
            "the provider's API key or extra headers hold characters an HTTP header cannot "
            "carry (only ASCII); an administrator must enter them again",
            "bad_request",
        ) from None


def headers_for(target) -> dict:
    headers = {"Accept": "application/json"}
    if target.api_key:
        if target.kind == "azure":
            headers["api-key"] = target.api_key
        else:
            headers["Authorization"] = f"Bearer {target.api_key}"
    headers.update(target.headers)
    return headers


def auth_for(target):
    """Basic auth from credentials in the base URL (a proxy in front of a
    self-hosted server, say), unless a Bearer key already authorizes."""
    username, password = _userinfo(target.base_url)
    if not username or "Authorization" in headers_for(target):
        return None
    return httpx.BasicAuth(username, password)


@functools.lru_cache(maxsize=1024)
def _userinfo(base_url):
    base = httpx.URL(base_url)
    return base.username, base.password


async def stream(target, endpoint, body, *, prepared=None, on_answer=None):
    """Yield Meta, Notices, then Delta/Finish events, Usage, or a final Error.

    Exactly one Meta comes first (empty if the upstream failed before saying
    anything about itself), then the Notices for dropped fields. Upstream
    problems end the stream with an Error event; they are never raised.
    `prepared`: what prepare(..., stream=True) returned for this body, when
    the caller already has it. `on_answer()` is called once the upstream has
    accepted the request (a 200 and its headers), before the first event.
    """
    notices = []
    started = False
    url = None
    try:
        check(target, endpoint, body)
        target = await resolve(target)
        sent, notices = prepared or prepare(target, endpoint, body, stream=True)
        url = url_for(target, endpoint)
        chunks = Chunks(endpoint, sent, requested_top(endpoint, body))
        # aclosing: when our consumer closes us, the inner generator (and so
        # the upstream connection) is closed now, not when garbage-collected.
        async with aclosing(_events(target, url, sent, chunks, on_answer)) as events:
            async for event in events:
                yield event
                if not started:
                    started = True  # that was the Meta
                    for notice in notices:
                        yield notice
    except UpstreamError as error:
        errors.logged(error, target, url or "")
        if not started:
            yield Meta()
            for notice in notices:
                yield notice
        yield error.event()


async def _events(target, url, sent, chunks, on_answer=None):
    """Meta first, then the normalized events of one streamed response."""
    loop = asyncio.get_running_loop()
    t = target.timeouts
    total_deadline = loop.time() + t.total
    client = shared_client()
    request = _build(
        client,
        "POST",
        url,
        json=sent,
        headers={**headers_for(target), "Accept": "text/event-stream"},
        timeout=_httpx_timeout(target),
    )
    # The first deadline covers connecting, the headers and the first event.
    which = "first_byte"
    deadline = min(loop.time() + t.first_byte, total_deadline)
    response = None
    try:
        try:
            async with asyncio.timeout_at(deadline):
                response = await _send(client, request, target, stream=True)
                if response.status_code != 200:
                    content = await response.aread()
                    raise errors.from_status(
                        response.status_code, content, response.headers, target
                    )
            if on_answer is not None:
                on_answer()
        except TimeoutError:
            raise errors.timed_out(
                "total" if deadline == total_deadline else which, target
            ) from None
        except httpx.HTTPError as exc:
            raise errors.from_transport(exc, target, answered=False) from None

        source = EventSource(response).aiter_sse()
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        sse = await anext(source)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise errors.timed_out(
                        "total" if deadline == total_deadline else which, target
                    ) from None
                except SSEError:
                    raise UpstreamError(
                        "the upstream did not answer with an event stream", "protocol"
                    ) from None
                except httpx.HTTPError as exc:
                    raise errors.from_transport(exc, target, answered=True) from None
                for event in chunks.read(sse, target):
                    yield event
                if chunks.done:
                    await _drain(source)
                    break
                which = "between_chunks"
                deadline = min(loop.time() + t.between_chunks, total_deadline)
        finally:
            await source.aclose()
        if not chunks.seen:
            raise UpstreamError("the upstream ended the stream without any output", "upstream")
        if not chunks.done and not chunks.all_finished():
            # The stream ended (cleanly or not) before every choice had a
            # finish_reason: what arrived is incomplete. One that ends after
            # all choices finished but without [DONE] is accepted.
            raise UpstreamError("the upstream closed the stream early", "upstream")
        if usage := chunks.usage():
            yield usage
    finally:
        if response is not None:
            await response.aclose()
            _unbind(response)


async def _send(client, request, target, stream=False):
    """client.send(), once more on a new connection when a pooled keep-alive
    connection turns out to be closed: the server dropped it between two
    requests (llama.cpp does so at times right after a stream), so this
    request never reached it and cannot have been processed. Seen as
    "Server disconnected without sending a response"; a second such failure
    is the upstream's."""
    try:
        response = await client.send(request, auth=auth_for(target), stream=stream)
    except httpx.RemoteProtocolError:
        response = await client.send(request, auth=auth_for(target), stream=stream)
    if not stream:  # read and closed
        _unbind(response)
    return response


_READ = httpx.ByteStream(b"")


def _unbind(response):
    """A closed response's stream, swapped for an empty one. httpx's client
    wraps the stream in one that points back at the response (to time it),
    so each call left a reference cycle of ~37 objects (the response, its
    request, aiohttp's response and buffers) for the cyclic collector to
    find. Under load they piled up between full collections: one freed
    ~74,000 at once, a ~100 ms pause that set the gateway's p99 (bench/
    README.md, session 10). Read and closed, the stream is never read again
    (the body stays in response.content), so the cycle goes, and refcounting
    frees the rest as soon as the call is done."""
    response.stream = _READ


async def _drain(source):
    # After [DONE] a well-behaved server ends the body at once; reading that
    # end lets a keep-alive connection go back to the pool (the openai SDK
    # does the same). One that does not gets its connection closed instead of
    # holding up the run.
    try:
        async with asyncio.timeout(0.05):
            async for _ in source:
                pass
    except (TimeoutError, httpx.HTTPError, SSEError):
        pass


class Chunks:
    """The state of one stream: which choices finished, logprob offsets,
    usage reports, and whether Meta was sent."""

    def __init__(self, endpoint, sent, top=None):
        self.chat = endpoint == "chat"
        self.top = top
        self.done = False
        self.meta_sent = False
        self.seen: set[int] = set()
        self.finished: set[int] = set()
        self.finish_order: list[int] = []
        self.usages: list[tuple[int | None, dict]] = []  # (choice index, report)
        prompt = sent.get("prompt")
        self.prompt_offset = len(prompt) if isinstance(prompt, str) else 0
        # Choice i answers prompt i // n (OpenAI's order, and llama.cpp's).
        self.n = sent.get("n") or 1
        self.offsets: dict[int, int] = {}

    def all_finished(self):
        return bool(self.seen) and self.seen <= self.finished

    def read(self, sse, target):
        """The events in one SSE event. Raises UpstreamError for an error frame
        or data that is not JSON."""
        data = sse.data.strip()
        if sse.event == "error":
            raise _error_frame(data, target)
        if data == "[DONE]":
            self.done = True
            return []
        if not data:
            return []
        try:
            chunk = json.loads(data)
        except ValueError:
            raise UpstreamError(
                "the upstream sent malformed data in the stream", "protocol"
            ) from None
        if chunk is None:
            # llama.cpp opens the stream of a list of prompts with `data: null`.
            return []
        if not isinstance(chunk, dict):
            raise UpstreamError("the upstream sent malformed data in the stream", "protocol")
        if chunk.get("error"):
            raise _error_frame(data, target)

        events = []
        if not self.meta_sent:
            self.meta_sent = True
            events.append(
                Meta(
                    id=chunk.get("id"),
                    model=chunk.get("model"),
                    created=chunk.get("created"),
                    system_fingerprint=chunk.get("system_fingerprint"),
                )
            )
        choices = [c for c in chunk.get("choices") or [] if isinstance(c, dict)]
        for choice in choices:
            events += self._choice(choice)
        if isinstance(chunk.get("usage"), dict):
            # llama.cpp reports each choice's usage in its finish chunk
            # (completions) or in a chunk of its own after it (chat): one
            # without choices belongs to the first finished choice not yet
            # reported.
            index = None
            if len(choices) == 1:
                index = choices[0].get("index") or 0
            elif not choices:
                reported = {i for i, _ in self.usages}
                index = next((i for i in self.finish_order if i not in reported), None)
            self.usages.append((index, chunk["usage"]))
        return events

    def _choice(self, choice):
        index = choice.get("index") or 0
        self.seen.add(index)
        events = []
        if self.chat:
            delta = choice.get("delta") or {}
            text = delta.get("content") or ""
            role = delta.get("role")
            tool_calls = delta.get("tool_calls") or None
            logprobs = chat_logprobs(choice.get("logprobs"), self.top)
        else:
            text = choice.get("text") or ""
            role = tool_calls = None
            offset = self.offsets.get(index, self.prompt_offset)
            logprobs, self.offsets[index] = completion_logprobs(
                choice.get("logprobs"), offset, self.top
            )
        if text or role or tool_calls or logprobs:
            events.append(Delta(index, text, role, tool_calls, logprobs))
        if choice.get("finish_reason"):
            if index not in self.finished:
                self.finish_order.append(index)
            self.finished.add(index)
            events.append(Finish(index, choice["finish_reason"]))
        return events

    def usage(self):
        """One Usage for the run. OpenAI sends one report; llama.cpp sends one
        per choice when n > 1 or there are several prompts (each counting only
        its own tokens, in that choice's last chunk): completion tokens are
        summed, and prompt tokens counted once per prompt (choice i answers
        prompt i // n). Otherwise the last report wins (reports are cumulative)."""
        if not self.usages:
            return None
        per_choice = {i: r for i, r in self.usages if i is not None}
        if len(self.usages) > 1 and len(per_choice) == len(self.usages) == len(self.seen):
            prompts: dict[int, int] = {}
            for i, r in per_choice.items():
                tokens = r.get("prompt_tokens") or 0
                prompts[i // self.n] = max(prompts.get(i // self.n, 0), tokens)
            prompt = sum(prompts.values())
            completion = sum(r.get("completion_tokens") or 0 for r in per_choice.values())
            reports = [per_choice[i] for i in sorted(per_choice)]
            raw = {"prompt_tokens": prompt, "completion_tokens": completion, "per_choice": reports}
            return Usage(prompt, completion, prompt + completion, raw)
        last = self.usages[-1][1]
        prompt = last.get("prompt_tokens") or 0
        completion = last.get("completion_tokens") or 0
        return Usage(prompt, completion, last.get("total_tokens") or prompt + completion, last)


def _error_frame(data, target, where=" mid-stream"):
    said = errors.upstream_message(data.encode()) or "no details"
    said = errors.redact(said, target)[: errors.MAX_QUOTED]
    return UpstreamError(f"the upstream reported an error{where}: {said}", "protocol")


async def complete(target, endpoint, body, *, prepared=None) -> dict:
    """The whole (non-streamed) response, normalized: completions logprobs in
    the legacy shape, chat logprobs as {content}. Fields the model does not
    accept are dropped and listed under a top-level "notices" key (absent when
    nothing was dropped). Raises UpstreamError."""
    check(target, endpoint, body)
    if target.kind == "local" and _several_choices(body):
        return await _complete_by_streaming(target, endpoint, body)
    target = await resolve(target)
    sent, notices = prepared or prepare(target, endpoint, body, stream=False)
    url = url_for(target, endpoint)
    data = await _get_json(target, "POST", url, sent)
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise errors.logged(
            UpstreamError("the upstream's answer is not a completion", "protocol"), target, url
        )
    prompt = sent.get("prompt")
    top = requested_top(endpoint, body)
    for choice in data["choices"]:
        if not isinstance(choice, dict):
            continue
        if endpoint == "chat":
            choice["logprobs"] = chat_logprobs(choice.get("logprobs"), top)
        else:
            offset = len(prompt) if isinstance(prompt, str) else 0
            choice["logprobs"], _ = completion_logprobs(choice.get("logprobs"), offset, top)
    if notices:
        data["notices"] = [{"field": n.field, "message": n.message} for n in notices]
    return data


def _several_choices(body):
    prompt = body.get("prompt")
    several_prompts = isinstance(prompt, list) and prompt and not isinstance(prompt[0], int)
    return (body.get("n") or 1) > 1 or (several_prompts and len(prompt) > 1)


async def _complete_by_streaming(target, endpoint, body) -> dict:
    """complete() for llama.cpp with several choices: its non-streamed answer
    counts the usage of the first choice only (n=3 x 8 tokens reports 8), while
    its stream reports every choice's. So the answer is streamed and put
    together here, and reports the same usage as the same request streamed."""
    meta, usage, notices, choices = None, None, [], {}
    async with aclosing(stream(target, endpoint, body)) as events:
        async for event in events:
            if isinstance(event, Error):
                raise UpstreamError(
                    event.message, event.code, event.status, event.retry_after, event.param
                )
            if isinstance(event, Meta):
                meta = event
            elif isinstance(event, Notice):
                notices.append({"field": event.field, "message": event.message})
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, Delta | Finish):
                choice = choices.setdefault(
                    event.index, {"index": event.index, "text": [], "logprobs": None,
                                  "finish_reason": None, "role": None},
                )
                if isinstance(event, Finish):
                    choice["finish_reason"] = event.reason
                    continue
                choice["text"].append(event.text)
                choice["role"] = choice["role"] or event.role
                if event.logprobs:
                    merged = choice["logprobs"] = choice["logprobs"] or {}
                    for key, value in event.logprobs.items():
                        if isinstance(value, list):
                            merged.setdefault(key, []).extend(value)
                        else:
                            merged.setdefault(key, value)
    data = {
        "id": meta.id,
        "object": "chat.completion" if endpoint == "chat" else "text_completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [_whole_choice(endpoint, choices[i]) for i in sorted(choices)],
    }
    if meta.system_fingerprint:
        data["system_fingerprint"] = meta.system_fingerprint
    if usage:
        data["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
    if notices:
        data["notices"] = notices
    return data


def _whole_choice(endpoint, choice):
    text = "".join(choice["text"])
    whole = {"index": choice["index"]}
    if endpoint == "chat":
        whole["message"] = {"role": choice["role"] or "assistant", "content": text}
    else:
        whole["text"] = text
    whole["logprobs"] = choice["logprobs"]
    whole["finish_reason"] = choice["finish_reason"]
    return whole


async def list_models(target) -> list[str]:
    """The upstream's model ids (GET {base}/models). For Azure this is
    {base}/openai/models?api-version=…: the models the resource can deploy;
    Azure's data plane does not list deployments, whose names are entered by
    hand. Raises UpstreamError."""
    return [entry["id"] for entry in await list_model_entries(target)]


async def list_model_entries(target) -> list[dict]:
    """list_models() with who serves each: [{"id", "owned_by"}]. A self-hosted
    server names itself there (llama.cpp: "llamacpp", vLLM: "vllm"), which is
    how Discover models knows which fields its models ignore."""
    target = await resolve(target)
    url = url_for(target)
    data = await _get_json(target, "GET", url)
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise errors.logged(
            UpstreamError("the upstream's answer is not a model list", "protocol"), target, url
        )
    return [
        {"id": str(m["id"]), "owned_by": str(m.get("owned_by") or "")}
        for m in items
        if isinstance(m, dict) and m.get("id")
    ]


async def _get_json(target, method, url, body=None):
    """One plain request/response within connect + total timeouts (a
    non-streamed answer only arrives when the model is done)."""
    client = shared_client()
    request = _build(
        client, method, url, json=body, headers=headers_for(target), timeout=_httpx_timeout(target)
    )
    try:
        try:
            async with asyncio.timeout(target.timeouts.total):
                response = await _send(client, request, target)
        except TimeoutError:
            raise errors.timed_out("total", target) from None
        except httpx.HTTPError as exc:
            raise errors.from_transport(exc, target, answered=False) from None
        if response.status_code != 200:
            raise errors.from_status(
                response.status_code, response.content, response.headers, target
            )
        try:
            data = response.json()
        except ValueError:
            raise UpstreamError("the upstream's answer is not JSON", "protocol") from None
        if isinstance(data, dict) and data.get("error"):
            raise _error_frame(response.text, target, where="")
        return data
    except UpstreamError as error:
        raise errors.logged(error, target, url) from None
