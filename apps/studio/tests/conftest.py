import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from playground.asgi import application


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
def connect():
    """Open the playground websocket through the full ASGI stack (origin check,
    session auth) as `user`; returns a connected communicator."""
    opened = []

    async def open_socket(user=None, origin="http://127.0.0.1:8000"):
        # A browser's handshake names the host it connects to; the origin
        # check compares the two.
        headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1:8000")]
        if user is not None:
            from channels.db import database_sync_to_async

            cookie = await database_sync_to_async(session_cookie)(user)
            headers.append((b"cookie", cookie.encode()))
        communicator = WebsocketCommunicator(application, "/ws/run/", headers=headers)
        connected, code = await communicator.connect()
        opened.append(communicator)
        return communicator, connected, code

    yield open_socket


async def receive_until(communicator, kind, timeout=10):
    """Every message up to and including the first of type `kind`."""
    messages = []
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        messages.append(message)
        if message["type"] == kind:
            return messages
