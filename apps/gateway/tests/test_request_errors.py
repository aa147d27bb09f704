"""Requests the gateway refuses before anything goes upstream: no or bad key,
unknown model, a model that does not serve the endpoint, a body that is not
JSON, a body the catalogue rejects. Each raises the openai SDK's matching
exception, in OpenAI's error shape, and creates no Run."""

import httpx
import openai
import pytest
from openai import OpenAI

from apps.catalog import ValidationFailed, validate
from apps.history.models import Run

from .conftest import gateway_client, stored_runs


def test_it_refuses_a_missing_key(app_url, fake_model):
    response = httpx.post(f"{app_url}/v1/completions", json={"model": "Echo", "prompt": "x"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "missing_api_key"
    assert not Run.objects.exists()


def test_it_refuses_a_bad_key(app_url, fake_model, secret):
    for wrong in ("pg-not-a-real-key", secret + "x", "sk-something-else"):
        with pytest.raises(openai.AuthenticationError) as raised:
            gateway_client(app_url, wrong).completions.create(model="Echo", prompt="x")
        assert raised.value.code == "invalid_api_key"
        assert wrong not in raised.value.response.text
    assert not Run.objects.exists()


def test_it_refuses_a_revoked_key(app_url, fake_model, key):
    gateway_key, secret = key
    sdk = gateway_client(app_url, secret)
    sdk.completions.create(model="Echo", prompt="x")
    gateway_key.revoke()
    with pytest.raises(openai.AuthenticationError):
        sdk.completions.create(model="Echo", prompt="x")
    with pytest.raises(openai.AuthenticationError):
        sdk.models.list()
    assert len(stored_runs(1)) == 1


def test_a_session_cookie_is_not_a_key(app_url, fake_model, owner, client):
    # Signed in to the site, no key: refused, and with 401 rather than a CSRF 403.
    client.force_login(owner)
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    response = httpx.post(
        f"{app_url}/v1/chat/completions",
        json={"model": "Echo", "messages": [{"role": "user", "content": "hi"}]},
        cookies=cookies,
    )
    assert response.status_code == 401


def test_it_answers_404_for_an_unknown_or_disabled_model(sdk, fake_model):
    with pytest.raises(openai.NotFoundError) as raised:
        sdk.completions.create(model="no-such-model", prompt="x")
    assert raised.value.code == "model_not_found"
    assert raised.value.param == "model"
    assert raised.value.type == "invalid_request_error"

    fake_model.enabled = False
    fake_model.save()
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="Echo", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("Echo")
    assert not Run.objects.exists()


def test_it_answers_400_for_a_model_that_does_not_serve_the_endpoint(sdk, fake_model):
    fake_model.serves_completions = False
    fake_model.save()
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.completions.create(model="Echo", prompt="x")
    assert raised.value.code == "model_not_supported"
    assert "/v1/chat/completions" in raised.value.message
    # It still serves chat.
    sdk.chat.completions.create(model="Echo", messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize(
    "content", [b"{not json", b"[1, 2]", b'{"temperature": NaN}', b"", b"[" * 100_000, b"\xff"]
)
def test_it_answers_400_for_a_body_that_is_not_a_json_object(app_url, fake_model, secret,
                                                             content):
    response = httpx.post(
        f"{app_url}/v1/completions",
        content=content,
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert not Run.objects.exists()


def test_it_answers_413_for_a_body_over_the_upload_limit(app_url, fake_model, secret):
    response = httpx.post(
        f"{app_url}/v1/completions",
        json={"model": "Echo", "prompt": "x" * 3_000_000},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_it_answers_400_with_the_catalogues_messages_and_a_detail_list(sdk, fake_model):
    body = {"model": "Echo", "prompt": "x", "temperature": 5, "n": 0}
    with pytest.raises(ValidationFailed) as expected:
        validate("completions", body)
    messages = [e.message for e in expected.value.errors]

    with pytest.raises(openai.BadRequestError) as raised:
        sdk.completions.create(**body)
    error = raised.value
    assert error.status_code == 400
    # The playground's messages, joined; param names the first field.
    assert error.message.endswith("; ".join(messages))
    assert error.param == "temperature"
    assert error.type == "invalid_request_error"
    # And doc 004's detail list, one entry per problem.
    assert error.response.json()["detail"] == [
        {"loc": ["body", "temperature"], "msg": messages[0], "type": "value_error"},
        {"loc": ["body", "n"], "msg": messages[1], "type": "value_error"},
    ]
    assert not Run.objects.exists()


def test_it_validates_chat_bodies_and_legacy_fields(sdk, fake_model):
    # Extras (extra_body) are the provider's policy (test_extra_parameters.py);
    # the deprecated functions are refused with what to send instead.
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(
            model="Echo", messages=[{"role": "tool", "content": "x"}],
            functions=[{"name": "f"}],
        )
    detail = raised.value.response.json()["detail"]
    assert ["body", "functions"] in [d["loc"] for d in detail]
    assert ["body", "messages[0].tool_call_id"] in [d["loc"] for d in detail]

    with pytest.raises(openai.BadRequestError) as raised:
        sdk.completions.create(model="Echo", prompt="x", stream_options={"include_usage": True})
    assert raised.value.param == "stream_options"


def test_it_answers_405_for_the_wrong_method(app_url, secret):
    response = httpx.get(
        f"{app_url}/v1/completions", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert "error" in response.json()


def test_it_is_usable_without_a_trailing_slash_and_with_the_sdks_base_url(app_url, secret,
                                                                          fake_model):
    # base_url ending in "/v1/" (as many users write it) works too.
    sdk = OpenAI(base_url=f"{app_url}/v1/", api_key=secret, max_retries=0, timeout=10)
    assert "Echo" in [m.id for m in sdk.models.list()]
