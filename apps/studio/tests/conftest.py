import pytest
from channels.testing import WebsocketCommunicator

from testing.sessions import session_cookie


@pytest.fixture
def connect():
    """Open the playground websocket through the full ASGI stack (origin check,
    session auth) as `user`; returns a connected communicator."""
    # Imported here, not at the top: conftest.py turns the run keeper off for
    # the test process in pytest_configure, which runs after this file loads.
    from playground.asgi import application

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
