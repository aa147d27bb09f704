import pytest
from channels.testing import WebsocketCommunicator

from apps.providers.models import Model, Provider
from testing.sessions import session_cookie


@pytest.fixture
def connect():
    """Open the playground websocket through the full ASGI stack as `user`."""
    # Imported here: conftest.py turns the run keeper off in pytest_configure.
    from channels.db import database_sync_to_async

    from playground.asgi import application

    async def open_socket(user):
        cookie = await database_sync_to_async(session_cookie)(user)
        headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000"),
                   (b"cookie", cookie.encode())]
        communicator = WebsocketCommunicator(application, "/ws/run/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        return communicator

    return open_socket


@pytest.fixture
def locked_model(upstream, db):
    """A model on the same test upstream whose provider sends a wrong key:
    once the upstream requires the right one, its runs fail (401) alone."""
    provider = Provider.objects.create(
        name="Wrong key", kind="openai", base_url=upstream.url,
        api_key="sk-wrong-key-0123456789", connect_timeout=2, first_byte_timeout=5,
        between_chunks_timeout=5, total_timeout=20,
    )
    return Model.objects.create(provider=provider, upstream_id="echo-2", display_name="Locked")


async def receive_all_done(communicator, count, timeout=15):
    """Every message until `count` runs said done."""
    messages, done = [], 0
    while done < count:
        message = await communicator.receive_json_from(timeout=timeout)
        messages.append(message)
        done += message["type"] == "done"
    return messages
