"""httpx's transport on aiohttp: the upstream's HTTP/1.1 parsed in C.

httpx's own transport (httpcore, h11 and anyio, all pure Python) cost 0.98 ms
of CPU for one plain upstream call on the 2-core bench machine, this one
0.61 ms (bench/transport_bench.py; bench/README.md, "Session 6": a gateway
call's event-loop CPU -13 %, 8 clients' throughput +25 %, a stream's first
token ~1 ms sooner). The client API stays httpx's: requests,
responses, timeouts, errors, Basic auth, proxies from the environment (httpx
sends proxied requests through its own transport, see client.py).
LiteLLM's proxy and the openai SDK (`DefaultAioHttpClient`) do the same;
their adapter, httpx-aiohttp, is not used because it reports a keep-alive
connection the server dropped as a connect timeout (and a read timeout as a
connect one): client.py retries the one and words each failure for the user.

aiohttp's errors become the httpx errors httpx's transport raises for the
same failure, so errors.from_transport() words them as before.
"""

import contextlib

import aiohttp
import httpx
from yarl import URL

# Most specific first: the first match wins.
_ERRORS = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS handshake
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),  # ftp://, say
    # The server closed the connection before or while answering: what h11
    # calls a protocol error ("Server disconnected without sending a
    # response", "peer closed connection without sending complete message body").
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # a malformed answer
    (aiohttp.ClientOSError, httpx.ReadError),  # reset by peer
    (aiohttp.ClientError, httpx.TransportError),
)


@contextlib.contextmanager
def _as_httpx_errors(request, sending=False):
    try:
        yield
    except aiohttp.ClientError as exc:
        if sending and isinstance(exc.__cause__, aiohttp.ClientConnectionResetError):
            # A pooled keep-alive connection the server had just closed (the
            # embedded llama.cpp does, right after a stream): the request
            # never went out. httpcore calls this a protocol error, and
            # client.py sends the request once more on a new connection.
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response", request=request
            ) from exc
        for theirs, ours in _ERRORS:
            if isinstance(exc, theirs):
                raise ours(str(exc) or type(exc).__name__, request=request) from exc
        raise  # unreachable: ClientError is the last entry
    except ValueError as exc:
        if not sending:
            raise
        # A header value aiohttp will not send (a CR, LF or NUL in an older
        # provider row's key or extra header): h11 refused it as this.
        raise httpx.LocalProtocolError(str(exc), request=request) from exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, response, request):
        self.response = response
        self.request = request

    async def __aiter__(self):
        with _as_httpx_errors(self.request):
            async for data in self.response.content.iter_any():
                yield data

    async def aclose(self):
        # Read to its end, the connection goes back to the pool; not (a run
        # stopped mid-stream), aiohttp closes it, and the upstream sees the
        # request end.
        self.response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session per transport, made in the event loop that first
    uses it (a session belongs to its loop, as client.py's clients do)."""

    def __init__(self, limits: httpx.Limits):
        self.limits = limits
        self.session = None

    def _session(self):
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.limits.max_connections or 0,
                    limit_per_host=0,
                    keepalive_timeout=self.limits.keepalive_expiry,
                    # httpx's certificate store (certifi, or SSL_CERT_FILE):
                    # the same servers are trusted as before.
                    ssl=httpx.create_ssl_context(),
                ),
                # One session serves every user: nothing an upstream sets may
                # go out with another's call.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,  # httpx decodes, as for its own transport
                trust_env=False,  # proxies are httpx's (client.py)
            )
        return self.session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a streamed body: aiohttp chunks it
            data = request.stream
            request.headers.pop("Transfer-Encoding", None)
        with _as_httpx_errors(request, sending=True):
            response = await self._session().request(
                request.method,
                # Exactly as httpx encoded it: yarl must not re-quote it.
                URL(str(request.url), encoded=True),
                headers=[(k.decode("latin-1"), v.decode("latin-1"))
                         for k, v in request.headers.raw],
                data=data,
                allow_redirects=False,
                compress=False,
                # No automatic User-Agent or Accept-Encoding: httpx's are sent.
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),  # a free connection, or a new one
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            # aiohttp decodes the reason as UTF-8; httpx wants bytes.
            extensions={"http_version": b"HTTP/1.1",
                        "reason_phrase": (response.reason or "").encode("latin-1", "replace")},
        )

    async def aclose(self):
        if self.session is not None:
            session, self.session = self.session, None
            await session.close()
