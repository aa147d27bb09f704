"""Extra parameters from the playground page: forwarded and recorded, or
refused at once naming the field when the provider refuses unknown fields."""

import pytest
from channels.db import database_sync_to_async

from apps.history.models import Run
from apps.providers.models import Provider

from .conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def run_message(model, **body):
    return {"type": "run", "mode": "chat", "model": str(model.uuid), "conversation": None,
            "body": {"messages": [{"role": "user", "content": "Say hello"}], **body}}


async def test_it_forwards_and_records_extras(connect, owner, fake_model, upstream):
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model, top_k=5, verbosity="low"))
    messages = await receive_until(ws, "done")
    assert messages[-1]["status"] == "completed"
    run = await database_sync_to_async(Run.objects.get)()
    assert run.request["top_k"] == 5 and run.request["verbosity"] == "low"
    assert upstream.last.json["top_k"] == 5


async def test_it_refuses_extras_naming_them_when_the_provider_refuses(
    connect, owner, fake_model, upstream
):
    await database_sync_to_async(
        Provider.objects.filter(pk=fake_model.provider_id).update)(unknown_fields="refuse")
    ws, _, _ = await connect(owner)
    await ws.send_json_to(run_message(fake_model, top_k=5))
    (answer,) = await receive_until(ws, "errors")
    assert answer["errors"] == [{
        "field": "top_k",
        "message": "top_k is not a field of /v1/chat/completions, and this provider takes no "
                   "fields beyond the catalogue's (its policy for unknown fields is refuse)",
    }]
    assert upstream.requests == []
    assert not await database_sync_to_async(Run.objects.exists)()
