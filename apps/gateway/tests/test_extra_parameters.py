"""OpenAI's newer fields and provider extras through the official `openai`
SDK, against a live gateway and the test upstream (which records the body it
received): the newer fields are forwarded as given; `extra_body` fields go
upstream, are dropped with a notice, or are refused with a 400 naming the
field, as the provider's policy says; the deprecated `functions` is refused
with what to send instead."""

import json

import httpx
import openai
import pytest

from apps.history.models import Run
from apps.presets.code import render_code
from apps.providers.models import Provider, ensure_local_provider

from .conftest import only_run, stored_runs
from .openai_schema import check

HELLO = [{"role": "user", "content": "Say hi"}]

NEWER = {
    "metadata": {"team": "search", "ticket": "T-42"},
    "store": False,
    "reasoning_effort": "low",
    "verbosity": "high",
    "service_tier": "flex",
    "prediction": {"type": "content", "content": "Hi there"},
    "modalities": ["text"],
    "prompt_cache_key": "tenant-7",
    "prompt_cache_retention": "24h",
    "prompt_cache_options": {"mode": "implicit", "ttl": "30m"},
    "safety_identifier": "user-5f2b",
    "moderation": {"model": "omni-moderation-latest"},
    "web_search_options": {"search_context_size": "low"},
}


def set_policy(model, policy):
    Provider.objects.filter(pk=model.provider_id).update(unknown_fields=policy)


@pytest.mark.parametrize("stream", [False, True])
def test_it_accepts_and_forwards_each_newer_field(sdk, fake_model, upstream, stream):
    answer = sdk.chat.completions.create(model="Echo", messages=HELLO, stream=stream, **NEWER)
    if stream:
        assert "".join(c.choices[0].delta.content or "" for c in answer if c.choices)
    else:
        assert answer.choices[0].message.content
    sent = upstream.last.json
    for name, value in NEWER.items():
        assert sent[name] == value, name
    assert {name: only_run().request[name] for name in NEWER} == NEWER


def test_it_forwards_audio_output_parameters(sdk, fake_model, upstream):
    audio = {"voice": "alloy", "format": "wav"}
    sdk.chat.completions.create(model="Echo", messages=HELLO, modalities=["text", "audio"],
                                audio=audio)
    assert upstream.last.json["audio"] == audio
    assert upstream.last.json["modalities"] == ["text", "audio"]


def test_it_refuses_a_newer_field_out_of_its_enum_naming_it(sdk, fake_model, upstream):
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="Echo", messages=HELLO, reasoning_effort="extreme")
    assert raised.value.param == "reasoning_effort"
    assert "reasoning_effort must be one of none, minimal, low, medium, high, xhigh, max" in (
        raised.value.message)
    assert upstream.requests == []


def test_it_forwards_extra_body_under_forward(sdk, fake_model, upstream):
    assert fake_model.provider.unknown_fields == "forward"  # a self-hosted server's default
    sdk.chat.completions.create(model="Echo", messages=HELLO,
                                extra_body={"top_k": 5, "min_p": 0.05})
    assert upstream.last.json["top_k"] == 5
    assert upstream.last.json["min_p"] == 0.05
    run = only_run()
    assert run.request["top_k"] == 5 and run.notices == []
    # View code sends it again, in extra_body (the SDK has no top_k argument).
    code = render_code(run.request, "chat", fake_model)
    assert "extra_body" in code["python"] and '"top_k": 5' in code["python"]
    assert '"top_k": 5' in code["curl"]

    sdk.completions.create(model="Echo", prompt="Once", extra_body={"top_k": 5})
    assert upstream.last.json["top_k"] == 5


def test_it_drops_extra_body_with_a_notice_under_drop(sdk, fake_model, upstream):
    set_policy(fake_model, "drop")
    answer = sdk.chat.completions.create(model="Echo", messages=HELLO, extra_body={"top_k": 5})
    assert answer.choices[0].message.content
    assert "top_k" not in upstream.last.json
    run = only_run()
    assert "top_k" not in run.request
    assert run.notices == [{
        "field": "top_k",
        "message": "top_k is not a catalogue field and this provider drops such fields; "
                   "it was not sent",
    }]
    fake_model.provider.refresh_from_db()
    assert '"top_k"' not in render_code(run.request, "chat", fake_model)["python"]


@pytest.mark.parametrize("stream", [False, True])
def test_it_refuses_extra_body_with_a_400_naming_it_under_refuse(sdk, fake_model, upstream,
                                                                 stream):
    set_policy(fake_model, "refuse")
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="Echo", messages=HELLO, stream=stream,
                                    extra_body={"top_k": 5})
    assert raised.value.param == "top_k"
    assert "top_k is not a field of /v1/chat/completions" in raised.value.message
    assert upstream.requests == []
    assert not Run.objects.exists()  # refused before a run began: nothing to keep
    # Catalogue fields, newer ones included, still pass.
    sdk.chat.completions.create(model="Echo", messages=HELLO, verbosity="low")
    assert upstream.last.json["verbosity"] == "low"


def test_it_refuses_legacy_functions_saying_to_send_tools(sdk, fake_model, upstream):
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(
            model="Echo", messages=HELLO,
            functions=[{"name": "get_weather", "parameters": {"type": "object"}}],
            function_call="auto",
        )
    assert raised.value.param in ("functions", "function_call")  # the first in the body
    message = raised.value.message
    assert "functions is deprecated; send tools instead" in message
    assert "function_call is deprecated; send tool_choice instead" in message
    assert upstream.requests == []


# --- the answers keep OpenAI's shape, whatever was sent or dropped ----------------------


@pytest.fixture
def embedded(transactional_db):
    return ensure_local_provider()


@pytest.mark.parametrize("backend", ["embedded", "upstream"])
def test_it_answers_in_openais_schema_with_newer_fields_and_extras(sdk, fake_model, embedded,
                                                                   backend):
    name = embedded.display_name if backend == "embedded" else fake_model.display_name
    body = {"model": name, "messages": HELLO, "max_tokens": 3, **NEWER,
            "extra_body": {"top_k": 5}}
    raw = sdk.chat.completions.with_raw_response.create(**body)
    whole = check("chat", raw.http_response.json())
    assert whole["choices"][0]["message"]["refusal"] is None
    with sdk.chat.completions.with_streaming_response.create(stream=True, **body) as raw:
        data = [line[len("data: "):] for line in raw.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    streamed = [check("chat.chunk", json.loads(d)) for d in data[:-1]]
    assert streamed[0]["choices"][0]["delta"]["refusal"] is None
    if backend == "embedded":
        # llama.cpp takes top_k; the newer fields it would ignore were dropped, each
        # with a notice kept on the run.
        run = stored_runs(2)[-1]  # the plain call's (newest first)
        assert run.request["top_k"] == 5 and "metadata" not in run.request
        assert {n["field"] for n in run.notices} == set(NEWER)


def test_it_refuses_an_extra_in_openais_error_shape(app_url, secret, fake_model, upstream):
    set_policy(fake_model, "refuse")
    response = httpx.post(f"{app_url}/v1/chat/completions",
                          headers={"Authorization": f"Bearer {secret}"},
                          json={"model": "Echo", "messages": HELLO, "top_k": 5})
    assert response.status_code == 400
    error = check("error", response.json())["error"]
    assert error["param"] == "top_k" and error["type"] == "invalid_request_error"


@pytest.mark.parametrize("stream", [False, True])
def test_dropped_extras_are_named_in_a_header_only_when_fit_for_one(
    app_url, secret, fake_model, upstream, stream
):
    # Under "drop", a name is the caller's own JSON key: one with a line
    # break (or a comma, or a control character) must not break the answer.
    set_policy(fake_model, "drop")
    body = {"model": "Echo", "messages": HELLO, "stream": stream, "top_k": 5,
            "bad\r\nX-Injected: 1": 1, "a,b": 2}
    with httpx.stream("POST", f"{app_url}/v1/chat/completions", json=body, timeout=10,
                      headers={"Authorization": f"Bearer {secret}"}) as response:
        response.read()
    assert response.status_code == 200
    assert "X-Injected" not in response.headers
    assert response.headers["X-Playground-Dropped-Fields"] == "top_k, ..."
    assert {n["field"] for n in only_run().notices} == {"top_k", "bad\r\nX-Injected: 1", "a,b"}
