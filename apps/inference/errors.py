"""Turning what went wrong upstream into a message a user can read.

Every failure becomes an UpstreamError with one of the codes documented on
events.Error. Messages never contain the API key, a custom header's value or
the base URL (which may carry credentials in its userinfo or query): they are
written here from fixed phrases, and the only upstream text they quote (its own
error message for a 4xx/5xx) passes through `redact()` first.
"""

import email.utils
import json
import logging
import time

import httpx

from .events import Error

log = logging.getLogger("apps.inference")

# An upstream's own message is shown as is, but not a whole HTML error page.
MAX_QUOTED = 300


class UpstreamError(Exception):
    def __init__(self, message, code, status=None, retry_after=None, param=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.param = param

    def event(self) -> Error:
        return Error(self.message, self.code, self.status, self.retry_after, self.param)


def refused(message, param) -> UpstreamError:
    """A request the model is known not to accept, refused before sending:
    the client's mistake (the gateway answers 400), not an upstream failure."""
    return UpstreamError(message, "bad_request", param=param)


def secrets_of(target) -> list[str]:
    """Every string of a Target that must never be shown or logged."""
    url = httpx.URL(target.base_url or "")
    found = [target.api_key, url.password, *target.headers.values()]
    found += [value for _, value in url.params.multi_items()]
    # Very short values would redact ordinary words; keys are never that short.
    return [s for s in found if isinstance(s, str) and len(s) >= 4]


def redact(text: str, target) -> str:
    for secret in secrets_of(target):
        text = text.replace(secret, "***")
    return text


def safe_url(url) -> str:
    """scheme://host:port/path: what a log line may say about where we went."""
    url = httpx.URL(str(url))
    return str(url.copy_with(username=None, password=None, query=None, fragment=None))


def upstream_message(content: bytes) -> str | None:
    """The upstream's own explanation, from the error bodies seen in the wild:
    OpenAI {"error": {"message"}}, {"error": "..."}, FastAPI/vLLM 422
    {"detail": [{"loc", "msg"}]}, {"detail": "..."}, {"message": "..."}."""
    try:
        body = json.loads(content)
    except ValueError:
        text = content.decode("utf-8", "replace").strip()
        return text if text and not text.startswith("<") else None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str) and error:
        return error
    detail = body.get("detail")
    if isinstance(detail, list) and detail:
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc") or [] if p != "body")
                parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    return None


def retry_after(headers) -> float | None:
    """Seconds to wait, from Retry-After (seconds or an HTTP date) or the
    retry-after-ms header some OpenAI-compatible servers send."""
    if value := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _quote(message, target):
    if not message:
        return None
    message = redact(" ".join(message.split()), target)
    return message if len(message) <= MAX_QUOTED else message[: MAX_QUOTED - 1] + "…"


def from_status(status: int, content: bytes, headers, target) -> UpstreamError:
    """An HTTP error answer (status != 200)."""
    said = _quote(upstream_message(content), target)
    if status in (401, 403):
        # Never quoted: OpenAI's 401 message contains part of the key.
        return UpstreamError(f"the provider refused the API key (HTTP {status})", "auth", status)
    if status == 404:
        message = f"the upstream does not know the model {target.model!r} (HTTP 404)"
        return UpstreamError(f"{message}: {said}" if said else message, "not_found", status)
    if status == 429:
        wait = retry_after(headers)
        when = f"retry after {wait:g} s" if wait is not None else "try again later"
        message = f"the provider is rate limiting requests (HTTP 429); {when}"
        return UpstreamError(
            f"{message}: {said}" if said else message, "rate_limited", status, wait
        )
    if status >= 500:
        message = f"the upstream failed (HTTP {status})"
        return UpstreamError(
            f"{message}: {said}" if said else message, "upstream", status, retry_after(headers)
        )
    if 400 <= status < 500:
        message = said or "the upstream rejected the request"
        return UpstreamError(f"{message} (HTTP {status})", "bad_request", status)
    return UpstreamError(f"the upstream answered with HTTP {status}", "upstream", status)


def from_transport(exc: httpx.HTTPError, target, answered: bool) -> UpstreamError:
    """A network failure. `answered`: the response had started arriving."""
    t = target.timeouts
    if isinstance(exc, httpx.ConnectTimeout):
        return UpstreamError(
            f"could not connect within {t.connect:g} s (connect timeout)", "timeout"
        )
    if isinstance(exc, httpx.PoolTimeout):
        return UpstreamError(
            f"no free connection to the upstream within {t.connect:g} s (connect timeout)",
            "timeout",
        )
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamError("the upstream took too long to answer (timeout)", "timeout")
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return UpstreamError("the provider's base URL is not a valid http(s) URL", "unreachable")
    if isinstance(exc, httpx.ConnectError):
        return UpstreamError(
            "could not connect to the upstream (is it running, and is the base URL right?)",
            "unreachable",
        )
    if answered:
        return UpstreamError("the upstream closed the stream early", "upstream")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return UpstreamError("the upstream closed the connection without answering", "unreachable")
    return UpstreamError(f"could not talk to the upstream ({type(exc).__name__})", "unreachable")


def timed_out(which: str, target) -> UpstreamError:
    """One of our own deadlines (see client.py) passed."""
    t = target.timeouts
    messages = {
        "first_byte": f"the upstream sent nothing for {t.first_byte:g} s (first-byte timeout)",
        "between_chunks": (
            f"the upstream stopped sending for {t.between_chunks:g} s (between-chunks timeout)"
        ),
        "total": f"the response took longer than {t.total:g} s (total timeout)",
    }
    return UpstreamError(messages[which], "timeout")


def logged(error: UpstreamError, target, url) -> UpstreamError:
    """Log a failure once, with where it happened but nothing secret."""
    log.warning(
        "%s upstream %s (model %s) failed: [%s] %s",
        target.kind,
        safe_url(url),
        target.model,
        error.code,
        error.message,
    )
    return error
