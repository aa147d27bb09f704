"""The prompt's token count: counted by the embedded model's tokenizer; any
other backend says it cannot tell rather than guess."""

import json

import pytest

from apps.providers.models import ensure_local_provider

pytestmark = pytest.mark.django_db


def ask(client, **body):
    return client.post("/tokens/", json.dumps(body), content_type="application/json")


def test_it_counts_a_prompt_and_a_chat_with_the_embedded_model(client, owner):
    model = ensure_local_provider()
    client.force_login(owner)
    short = ask(client, mode="completions", model=str(model.uuid), prompt="Hello").json()["tokens"]
    long = ask(client, mode="completions", model=str(model.uuid),
               prompt="Hello there, how are you doing today?").json()["tokens"]
    assert 0 < short < long
    assert ask(client, mode="completions", model=str(model.uuid),
               prompt=[1, 2, 3]).json() == {"tokens": 3}
    chat = ask(client, mode="chat", model=str(model.uuid),
               messages=[{"role": "user", "content": "Hello"}]).json()["tokens"]
    assert chat > short  # the chat template's role markers count too


def test_it_cannot_tell_for_a_backend_without_a_tokenizer(client, owner, fake_model):
    client.force_login(owner)
    answer = ask(client, mode="completions", model=str(fake_model.uuid), prompt="Hello")
    assert answer.status_code == 200 and answer.json() == {"tokens": None}


def test_it_refuses_a_malformed_question(client, owner):
    client.force_login(owner)
    assert ask(client, mode="sideways", model="x").status_code == 400
    assert client.post("/tokens/", "not json", content_type="application/json").status_code == 400


def test_it_is_for_signed_in_users_only(client):
    assert ask(client, mode="completions", model="x").status_code == 302


def test_it_counts_only_what_a_run_would_accept(client, owner):
    model = ensure_local_provider()
    client.force_login(owner)
    for messages in ([{"role": "wizard", "content": "Hello"}], [{"content": "Hello"}],
                     "Hello", [], [{"role": "user", "content": {"text": "Hi"}}]):
        answer = ask(client, mode="chat", model=str(model.uuid), messages=messages)
        assert answer.status_code == 200 and answer.json() == {"tokens": None}, messages
    assert ask(client, mode="completions", model=str(model.uuid),
               prompt={"text": "Hello"}).json() == {"tokens": None}


def test_it_will_not_count_a_huge_question(client, owner):
    model = ensure_local_provider()
    client.force_login(owner)
    uuid = str(model.uuid)
    unknown = {"tokens": None}
    assert ask(client, mode="completions", model=uuid, prompt=["Hi"] * 16).json()["tokens"] > 0
    assert ask(client, mode="completions", model=uuid, prompt=["Hi"] * 17).json() == unknown
    huge = "word " * 41_000  # over 200 kB
    assert ask(client, mode="completions", model=uuid, prompt=huge).json() == {"tokens": None}
    assert ask(client, mode="chat", model=uuid,
               messages=[{"role": "user", "content": huge}]).json() == {"tokens": None}
