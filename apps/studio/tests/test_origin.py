"""The playground websocket opens for the site's own pages only: same scheme,
host and port. A page on another port of the same host (a dev server, any
local app) is another site, even though the browser sends it the cookie."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from playground.asgi import application

from .conftest import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def handshake(app_url, user, origin):
    """The HTTP status of a handshake to the live server with the user's
    cookie: 101 when the socket opened."""
    ws_url = app_url.replace("http://", "ws://") + "/ws/run/"
    try:
        with connect(ws_url, origin=origin, additional_headers={"Cookie": session_cookie(user)}):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def test_it_opens_for_the_sites_own_page(app_url, owner):
    assert handshake(app_url, owner, origin=app_url) == 101


@pytest.mark.parametrize("other", ["http://127.0.0.1:9999", "http://localhost:{port}"])
def test_it_refuses_a_page_on_another_port_or_name_of_the_same_host(app_url, owner, other):
    port = int(app_url.rsplit(":", 1)[1])
    assert handshake(app_url, owner, origin=other.format(port=port)) == 403


def test_it_refuses_a_page_of_another_scheme(app_url, owner):
    assert handshake(app_url, owner, origin=app_url.replace("http://", "https://")) == 403


def test_it_refuses_a_null_origin(app_url, owner):
    # Sandboxed iframes, data: and file: pages send "null".
    assert handshake(app_url, owner, origin="null") == 403


def test_it_refuses_a_handshake_without_origin(app_url, owner):
    assert handshake(app_url, owner, origin=None) == 403


async def opens_behind_proxy(user, origin, proto="https", host="playground.example.com"):
    """Whether a handshake the TLS proxy forwarded opens (in process: the
    proxy's headers are what matters)."""
    cookie = await database_sync_to_async(session_cookie)(user)
    headers = [(b"host", host.encode()), (b"x-forwarded-proto", proto.encode()),
               (b"cookie", cookie.encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(application, "/ws/run/", headers=headers)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.fixture
def behind_tls_proxy(settings):
    # What PLAYGROUND_HTTPS=1 with ALLOWED_HOSTS=playground.example.com sets.
    settings.ALLOWED_HOSTS = ["playground.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


async def test_it_opens_for_the_https_page_behind_the_tls_proxy(behind_tls_proxy, owner):
    assert await opens_behind_proxy(owner, "https://playground.example.com")


async def test_it_refuses_the_http_page_behind_the_tls_proxy(behind_tls_proxy, owner):
    assert not await opens_behind_proxy(owner, "http://playground.example.com")
    assert not await opens_behind_proxy(owner, "https://playground.example.com:8443")


async def test_it_refuses_a_host_that_is_not_allowed(behind_tls_proxy, owner):
    # A page on a name that resolves here (DNS rebinding) is not the site.
    assert not await opens_behind_proxy(owner, "https://evil.example", host="evil.example")


async def test_it_opens_for_csrf_trusted_origins(behind_tls_proxy, settings, owner):
    settings.CSRF_TRUSTED_ORIGINS = ["https://studio.example.com", "https://*.example.org"]
    assert await opens_behind_proxy(owner, "https://studio.example.com")
    assert await opens_behind_proxy(owner, "https://eu.example.org")
    assert not await opens_behind_proxy(owner, "http://studio.example.com")
    assert not await opens_behind_proxy(owner, "https://studio.example.com:8443")
