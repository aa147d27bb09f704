"""One record: every gateway call is a Run in history, owned by the key's
user, naming the key by its prefix, holding the exact body sent upstream
(never a key), the response, status and timings. The key's last use is kept."""

import json

import httpx
import pytest

from apps.gateway.models import GatewayKey
from apps.history.models import Run

from .conftest import PROVIDER_KEY, only_run, stored_runs


def test_a_completion_is_a_run(sdk, fake_model, upstream, key, owner):
    gateway_key, secret = key
    raw = sdk.completions.with_raw_response.create(
        model="Echo", prompt="one two", max_tokens=5, user="u-1"
    )
    answer = raw.parse()

    run = only_run()
    assert answer.id == f"cmpl-{run.uuid.hex}"
    assert (run.source, run.owner, run.gateway_key_prefix) == ("gateway", owner, gateway_key.prefix)
    assert (run.endpoint, run.model, run.model_name, run.provider_name) == (
        "completions", fake_model, "Echo", "Test upstream"
    )
    assert run.conversation is None
    # The exact body that went upstream: not streamed, as the client asked.
    assert run.request == upstream.last.json
    assert run.request == {"model": "echo-1", "prompt": "one two", "max_tokens": 5, "user": "u-1"}
    # What the client got is what the Run keeps.
    assert run.response == json.loads(raw.text)
    assert (run.status, run.error) == (Run.COMPLETED, "")
    assert (run.prompt_text, run.output_text) == ("one two", "Echo: one two")
    assert (run.prompt_tokens, run.completion_tokens) == (2, 3)
    assert run.duration_ms > 0 and run.finished is not None


def test_a_streamed_chat_is_a_run(sdk, fake_model, upstream, secret):
    chunks = list(sdk.chat.completions.create(
        model="Echo", messages=[{"role": "user", "content": "one two"}], stream=True
    ))
    run = only_run()
    assert chunks[0].id == f"chatcmpl-{run.uuid.hex}"
    assert run.request == upstream.last.json
    assert run.request["stream"] is True
    # The adapter always asks for usage, so a run has its token counts.
    assert run.request["stream_options"] == {"include_usage": True}
    assert run.status == Run.COMPLETED
    assert run.response["object"] == "chat.completion"
    message = run.response["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Echo: one two", "refusal": None}
    assert run.response["model"] == "Echo"
    assert run.output_text == "Echo: one two"
    assert run.ttft_ms is not None and run.ttft_ms <= run.duration_ms
    assert run.completion_tokens == 3
    for text in (str(run.request), str(run.response)):
        assert secret not in text and PROVIDER_KEY not in text
    assert upstream.last.headers["authorization"] == f"Bearer {PROVIDER_KEY}"


def test_every_call_is_one_run_and_updates_the_keys_last_use(sdk, fake_model, key):
    gateway_key, _ = key
    assert gateway_key.last_used is None
    sdk.completions.create(model="Echo", prompt="a")
    stored_runs(1)  # the key's use is noted just before the Run's write
    first = GatewayKey.objects.get().last_used
    assert first is not None
    list(sdk.completions.create(model="Echo", prompt="b", stream=True))
    sdk.chat.completions.create(model="Echo", messages=[{"role": "user", "content": "c"}])
    assert len(stored_runs(3)) == 3
    assert Run.objects.filter(source="gateway").count() == 3
    # Written at most once a minute (issue 13): a write per call cost more
    # than the call's own record; "last used" is shown to the minute.
    assert GatewayKey.objects.get().last_used == first


def test_a_field_the_model_does_not_accept_is_dropped_and_noted(sdk, fake_model, upstream):
    fake_model.accepted_fields = ["max_tokens"]
    fake_model.save()
    sdk.completions.create(model="Echo", prompt="a", user="u-1", max_tokens=3)
    run = only_run()
    assert "user" not in upstream.last.json
    assert run.request == upstream.last.json
    assert run.notices == [
        {"field": "user", "message": "echo-1 does not accept user; it was not sent"}
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_the_caller_is_told_which_fields_were_not_sent(sdk, fake_model, upstream, stream):
    fake_model.accepted_fields = ["max_tokens"]
    fake_model.save()
    raw = sdk.completions.with_raw_response.create(
        model="Echo", prompt="a", user="u-1", seed=7, max_tokens=3, stream=stream)
    assert set(raw.headers["X-Playground-Dropped-Fields"].split(", ")) == {"user", "seed"}
    kept = sdk.completions.with_raw_response.create(model="Echo", prompt="a", max_tokens=3,
                                                    stream=stream)
    assert "X-Playground-Dropped-Fields" not in kept.headers
    for answer in (raw, kept):  # read to the end: the runs finish
        parsed = answer.parse()
        if stream:
            list(parsed)
    assert "seed" not in upstream.requests[0].json


def test_the_model_can_be_named_by_its_upstream_id(sdk, fake_model):
    # Responses say the name the client used.
    assert sdk.completions.create(model="echo-1", prompt="a").model == "echo-1"
    assert only_run().model == fake_model


def test_a_key_of_another_user_records_runs_for_that_user(app_url, fake_model, teammate):
    _, secret = GatewayKey.create(teammate, "theirs")
    httpx.post(f"{app_url}/v1/completions", json={"model": "Echo", "prompt": "x"},
               headers={"Authorization": f"Bearer {secret}"}).raise_for_status()
    assert only_run().owner == teammate
