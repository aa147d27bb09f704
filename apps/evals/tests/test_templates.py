"""A template run from the playground's websocket: rendered for the
upstream, stored with its template and values; a missing value is refused."""

import json

import pytest
from channels.db import database_sync_to_async

from apps.history.models import Run

from .conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def template_message(model, variables):
    return {
        "type": "run", "mode": "chat", "model": str(model.uuid), "conversation": None,
        "body": {"messages": [
            {"role": "system", "content": "Answer in {{language}}."},
            {"role": "user", "content": r"Translate {{word}} (not \{{word}})"},
        ]},
        "variables": variables,
    }


async def test_it_sends_the_rendered_body_and_keeps_the_template(
    connect, owner, fake_model, upstream
):
    ws, _, _ = await connect(owner)
    await ws.send_json_to(template_message(fake_model, {"language": "French", "word": "cat"}))
    messages = await receive_until(ws, "done")
    run = await database_sync_to_async(Run.objects.get)(uuid=messages[0]["run"])
    sent = upstream.requests[-1].json["messages"]
    assert sent[0]["content"] == "Answer in French."
    assert sent[1]["content"] == "Translate cat (not {{word}})"
    assert run.request["messages"] == sent
    assert run.template["variables"] == {"language": "French", "word": "cat"}
    assert run.template["body"]["messages"][0]["content"] == "Answer in {{language}}."
    # The conversation keeps the template and its values, for a reload.
    conversation = await database_sync_to_async(lambda: run.conversation)()
    thread = await database_sync_to_async(conversation.thread)()
    assert thread[0]["content"] == "Answer in {{language}}."
    assert conversation.form["variables"] == {"language": "French", "word": "cat"}
    await ws.disconnect()


async def test_it_refuses_a_run_with_a_missing_variable_naming_it(
    connect, owner, fake_model, upstream
):
    ws, _, _ = await connect(owner)
    await ws.send_json_to(template_message(fake_model, {"language": "French"}))
    reply = await ws.receive_json_from(timeout=5)
    assert reply["type"] == "errors"
    assert reply["errors"] == [{
        "field": "variables",
        "message": 'messages[1].content: the template variable "word" has no value',
    }]
    assert upstream.requests == []
    await ws.disconnect()


def test_it_shows_the_rendered_request_in_view_code(client, owner, fake_model):
    client.force_login(owner)
    response = client.post("/presets/code/", {
        "mode": "completions", "model": str(fake_model.uuid),
        "body": json.dumps({"prompt": "Hello {{who}}"}), "variables": json.dumps({"who": "Ada"}),
    })
    assert response.status_code == 200
    assert "Hello Ada" in response.content.decode()
    assert "{{who}}" not in response.content.decode()
    missing = client.post("/presets/code/", {
        "mode": "completions", "model": str(fake_model.uuid),
        "body": json.dumps({"prompt": "Hello {{who}}"}), "variables": "{}",
    })
    assert 'the template variable &quot;who&quot; has no value' in missing.content.decode()
