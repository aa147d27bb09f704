"""When the upstream misbehaves, the SDK sees a clean error with the right
status (or, once streaming started, an error frame it raises as APIError),
and the Run is kept with its status and whatever arrived. No key, ours or
the provider's, ever appears in a response or a Run."""

import json
import time

import openai
import pytest
from django.forms.models import model_to_dict

from apps.history.models import Run
from apps.providers.models import Provider

from .conftest import PROVIDER_KEY, only_run, stored_runs

PROMPT = {"model": "Echo", "prompt": "one two three four"}
CHAT = {"model": "Echo", "messages": [{"role": "user", "content": "one two three four"}]}


def assert_no_key_in(text, secret):
    assert secret not in text
    assert PROVIDER_KEY not in text
    assert PROVIDER_KEY[-4:] not in text  # not even OpenAI-style masked


def assert_run_has_no_key(run, secret):
    assert_no_key_in(json.dumps(model_to_dict(run), default=str), secret)


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_429_is_a_rate_limit_error_with_retry_after(sdk, fake_model, upstream, secret,
                                                             stream):
    upstream.behave(status=429, retry_after=7, error="Slow down")
    with pytest.raises(openai.RateLimitError) as raised:
        sdk.completions.create(**PROMPT, stream=stream)
    assert raised.value.response.headers["Retry-After"] == "7"
    assert "Slow down" in raised.value.message
    assert_no_key_in(raised.value.response.text, secret)
    run = only_run()
    assert run.status == Run.FAILED
    assert run.error_code == "rate_limited"
    assert_run_has_no_key(run, secret)


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_5xx_is_a_502(sdk, fake_model, upstream, secret, stream):
    upstream.behave(status=503, error="overloaded")
    with pytest.raises(openai.InternalServerError) as raised:
        sdk.chat.completions.create(**CHAT, stream=stream)
    assert raised.value.status_code == 502
    assert raised.value.code == "upstream_upstream"
    assert "HTTP 503" in raised.value.message
    run = only_run()
    assert run.status == Run.FAILED
    assert_run_has_no_key(run, secret)


def test_a_provider_key_the_upstream_refuses_is_a_502_not_a_401(sdk, fake_model, upstream,
                                                                secret):
    # The client's key is fine; the gateway's provider is misconfigured.
    upstream.require_key("sk-some-other-key")
    with pytest.raises(openai.InternalServerError) as raised:
        sdk.completions.create(**PROMPT)
    assert raised.value.status_code == 502
    assert_no_key_in(raised.value.response.text, secret)
    assert_run_has_no_key(only_run(), secret)


def test_an_upstream_400_is_passed_on_as_a_400(sdk, fake_model, upstream):
    upstream.behave(status=400, error="logit_bias is not supported by this model")
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.completions.create(**PROMPT)
    assert "logit_bias is not supported" in raised.value.message


def test_an_upstream_timeout_is_a_504(sdk, fake_model, upstream):
    # Streamed: nothing within the first-byte timeout (2 s).
    upstream.behave(latency=5)
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as raised:
        sdk.completions.create(**PROMPT, stream=True)
    assert raised.value.status_code == 504
    assert "timeout" in raised.value.message
    assert time.monotonic() - started < 4

    # Not streamed: the whole answer within the total timeout.
    Provider.objects.update(total_timeout=1)
    with pytest.raises(openai.APIStatusError) as raised:
        sdk.completions.create(**PROMPT)
    assert raised.value.status_code == 504
    runs = stored_runs(2)
    assert [r.status for r in runs] == [Run.FAILED, Run.FAILED]
    assert {r.error_code for r in runs} == {"timeout"}


def test_an_unreachable_upstream_is_a_502(sdk, fake_model):
    Provider.objects.update(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(openai.InternalServerError) as raised:
        sdk.completions.create(**PROMPT)
    assert raised.value.status_code == 502
    assert "127.0.0.1" not in raised.value.message
    assert only_run().error_code == "unreachable"


def read_until_error(stream):
    """The text of every chunk before the stream raised, and the error."""
    text = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            if chunk.choices:
                choice = chunk.choices[0]
                text.append(getattr(choice, "text", None) or choice.delta.content or "")
    return "".join(text), raised.value


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_a_stream_that_drops_mid_way_ends_with_an_error(sdk, fake_model, upstream, secret,
                                                        endpoint):
    upstream.behave(drop_after=2)
    if endpoint == "chat":
        stream = sdk.chat.completions.create(**CHAT, stream=True)
    else:
        stream = sdk.completions.create(**PROMPT, stream=True)
    text, error = read_until_error(stream)
    assert text == "Echo: one"
    assert not isinstance(error, openai.APIStatusError)  # the HTTP status was 200
    assert "closed the stream early" in error.message
    run = only_run()
    assert run.status == Run.FAILED
    assert run.output_text == "Echo: one"
    assert run.error_code == "upstream"
    assert_run_has_no_key(run, secret)


def test_an_error_frame_mid_stream_is_an_error(sdk, fake_model, upstream):
    upstream.behave(error_after=1, error_frame={"error": {"message": "model crashed"}})
    text, error = read_until_error(sdk.completions.create(**PROMPT, stream=True))
    assert text == "Echo:"
    assert "model crashed" in error.message
    assert only_run().status == Run.FAILED


def test_a_stream_that_stalls_mid_way_times_out(sdk, fake_model, upstream):
    upstream.behave(stall_after=1)
    started = time.monotonic()
    text, error = read_until_error(sdk.chat.completions.create(**CHAT, stream=True))
    assert time.monotonic() - started < 4  # the between-chunks timeout is 2 s
    assert text == "Echo:"
    assert "between-chunks timeout" in error.message
    run = only_run()
    assert (run.status, run.error_code, run.output_text) == (Run.FAILED, "timeout", "Echo:")


def test_malformed_upstream_data_is_a_502(sdk, fake_model, upstream):
    upstream.behave(body="<html>oops</html>", status=200)
    with pytest.raises(openai.InternalServerError) as raised:
        sdk.completions.create(**PROMPT)
    assert raised.value.status_code == 502
    assert only_run().error_code == "protocol"
