"""Websockets from the site's own pages only: same scheme, host and port.

channels' AllowedHostsOriginValidator compares host names only, so a page
served by anything else on the same machine (http://127.0.0.1:9999,
http://localhost:3000) could open /ws/run/ with the user's cookie: browsers
send cookies to every port of a host. A websocket has no CORS and no CSRF
token, so its Origin header is the only guard; it must name exactly the
origin the connection was made to (or one of CSRF_TRUSTED_ORIGINS, as for
Django's own CSRF check).
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}


def header(scope, name):
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def parse_origin(text):
    """(scheme, host, port) of an http(s) origin, or None (e.g. "null")."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def connection_scheme(scope):
    """http or https, as the browser sees it: behind the TLS proxy
    (PLAYGROUND_HTTPS) the proxy's header says, as it does for Django."""
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        name = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        value = header(scope, name)
        if value is not None:
            return "https" if value.split(",")[0].strip() == secure_value else "http"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def own_origin(scope):
    """The origin this connection was made to, if its Host is one of ours."""
    host = header(scope, b"host")
    if not host:
        return None
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    if not domain or not validate_host(domain, allowed):
        return None
    return parse_origin(f"{connection_scheme(scope)}://{host}")


def trusted(origin):
    """Whether CSRF_TRUSTED_ORIGINS names the origin (with Django's
    "https://*.example.com" subdomain patterns)."""
    scheme, host, port = origin
    for pattern in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in pattern
        allowed = parse_origin(pattern.replace("://*.", "://", 1))
        if allowed is None or allowed[0] != scheme or allowed[2] != port:
            continue
        if host == allowed[1] or (wildcard and is_same_domain(host, "." + allowed[1])):
            return True
    return False


def same_origin(scope):
    origin = header(scope, b"origin")
    parsed = parse_origin(origin) if origin else None
    if parsed is None:
        return False
    return parsed == own_origin(scope) or trusted(parsed)


class Denier(WebsocketDenier):
    """channels' denier, without a channel of its own on the channel layer:
    a refused socket is never sent anything, and with channels-redis each
    one would hold a Redis receive until the client goes, whose
    cancellation can be lost (apps/runs/hub.py, Hub.close) and leave it
    reading for ever."""

    channel_layer_alias = None


class SameOriginValidator:
    """ASGI middleware: refuse a websocket handshake (403) unless its Origin is
    the site's own origin (scheme, host and port) or a trusted one."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not same_origin(scope):
            return await Denier()(scope, receive, send)
        return await self.application(scope, receive, send)
