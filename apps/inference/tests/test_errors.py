"""Every failure becomes one clear Error (stream) or UpstreamError (complete)."""

import logging
import socket
from dataclasses import replace

import pytest

from apps.inference import Error, Meta, Target, Timeouts, UpstreamError, complete, list_models
from testing.fixtures import collect

BODY = {"prompt": "hello"}


async def last_error(target, endpoint="completions", body=BODY):
    events = await collect(target, endpoint, body)
    assert isinstance(events[0], Meta)
    assert isinstance(events[-1], Error)
    return events[-1]


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_it_reports_an_unreachable_upstream(upstream_target):
    target = replace(upstream_target, base_url=f"http://127.0.0.1:{closed_port()}/v1")
    error = await last_error(target)
    assert error.code == "unreachable"
    assert error.message.startswith("could not connect to the upstream")


async def test_it_reports_a_connection_closed_without_an_answer(upstream, upstream_target):
    upstream.behave(close_without_response=True)
    error = await last_error(upstream_target)
    assert error == Error("the upstream closed the connection without answering", "unreachable")


async def test_it_reports_a_base_url_that_is_not_http(upstream_target):
    error = await last_error(replace(upstream_target, base_url="ftp://example.invalid/v1"))
    assert error == Error("the provider's base URL is not a valid http(s) URL", "unreachable")


@pytest.mark.parametrize("status", [401, 403])
async def test_it_says_the_provider_refused_the_key(upstream, upstream_target, status):
    upstream.behave(status=status, error="Incorrect API key provided: sk-abc***wxyz")
    error = await last_error(upstream_target)
    assert error == Error(f"the provider refused the API key (HTTP {status})", "auth", status)


async def test_it_names_the_unknown_model(upstream, upstream_target):
    upstream.behave(status=404, error="The model `echo-1` does not exist")
    error = await last_error(upstream_target)
    assert error.code == "not_found"
    assert error.message == (
        "the upstream does not know the model 'echo-1' (HTTP 404): "
        "The model `echo-1` does not exist"
    )


async def test_it_quotes_the_upstreams_message_for_a_bad_request(upstream, upstream_target):
    upstream.behave(status=400, error="max_tokens is too large: 99999")
    error = await last_error(upstream_target)
    assert error == Error("max_tokens is too large: 99999 (HTTP 400)", "bad_request", 400)


async def test_it_quotes_a_422_detail_list(upstream, upstream_target):
    detail = [
        {"loc": ["body", "n"], "msg": "Input should be greater than or equal to 1", "type": "x"},
        {"loc": ["body", "stop"], "msg": "List should have at least 1 item", "type": "y"},
    ]
    upstream.behave(status=422, error={"detail": detail})
    error = await last_error(upstream_target)
    assert error.code == "bad_request"
    assert error.message == (
        "n: Input should be greater than or equal to 1; "
        "stop: List should have at least 1 item (HTTP 422)"
    )


async def test_it_says_when_to_retry_after_a_429(upstream, upstream_target):
    upstream.behave(status=429, error="Rate limit reached", retry_after=7)
    error = await last_error(upstream_target)
    assert error == Error(
        "the provider is rate limiting requests (HTTP 429); retry after 7 s: Rate limit reached",
        "rate_limited",
        429,
        7.0,
    )


async def test_it_reads_retry_after_as_an_http_date(upstream, upstream_target):
    upstream.behave(status=429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    error = await last_error(upstream_target)
    assert error.retry_after == 0.0  # in the past: retry now


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_it_reports_a_server_error(upstream, upstream_target, status):
    upstream.behave(status=status, error="upstream exploded")
    error = await last_error(upstream_target)
    assert error == Error(
        f"the upstream failed (HTTP {status}): upstream exploded", "upstream", status
    )


async def test_it_does_not_quote_an_html_error_page(upstream, upstream_target):
    upstream.behave(status=502, body="<html><body>Bad gateway</body></html>")
    error = await last_error(upstream_target)
    assert error.message == "the upstream failed (HTTP 502)"


async def test_complete_raises_the_same_errors(upstream, upstream_target):
    upstream.behave(status=429, retry_after=2)
    with pytest.raises(UpstreamError) as caught:
        await complete(upstream_target, "chat", {"messages": []})
    assert (caught.value.code, caught.value.status, caught.value.retry_after) == (
        "rate_limited",
        429,
        2.0,
    )


async def test_complete_raises_on_an_error_in_a_200_answer(upstream, upstream_target):
    upstream.behave(body={"error": {"message": "backend busy"}})
    with pytest.raises(UpstreamError) as caught:
        await complete(upstream_target, "completions", BODY)
    assert caught.value.message == "the upstream reported an error: backend busy"


async def test_list_models_raises_for_a_refused_key(upstream, upstream_target):
    upstream.require_key("sk-right")
    with pytest.raises(UpstreamError) as caught:
        await list_models(replace(upstream_target, api_key="sk-wrong"))
    assert caught.value.code == "auth"


KEY = "sk-SECRET-key-1234567890"
HEADER = "hdr-SECRET-value-42"
PASSWORD = "url-SECRET-pass"
TOKEN = "query-SECRET-token"


@pytest.mark.parametrize(
    "behaviour",
    [
        {"status": 401, "error": f"Incorrect API key provided: {KEY}"},
        {"status": 400, "error": f"bad request for key {KEY} with header {HEADER}"},
        {"status": 500, "error": f"crash at https://user:{PASSWORD}@host/v1?token={TOKEN}"},
        {"body": {"error": {"message": f"boom {KEY} {TOKEN}"}}},
        {"latency": 1.0},
    ],
)
async def test_it_never_shows_or_logs_a_secret(upstream, caplog, behaviour):
    caplog.set_level(logging.DEBUG)
    upstream.behave(**behaviour)
    target = Target(
        kind="openai",
        base_url=f"http://user:{PASSWORD}@127.0.0.1:{upstream.port}/v1?token={TOKEN}",
        model="echo-1",
        api_key=KEY,
        headers={"X-Custom-Auth": HEADER},
        timeouts=Timeouts(connect=1, first_byte=0.3, between_chunks=1, total=0.5),
    )
    streamed = await last_error(target)
    with pytest.raises(UpstreamError) as raised:
        await complete(target, "completions", BODY)
    assert_no_secret([streamed.message, raised.value.message, str(raised.value)], caplog)
    # The secrets did reach the upstream, where they belong.
    assert upstream.last.headers["authorization"] == f"Bearer {KEY}"
    assert upstream.last.headers["x-custom-auth"] == HEADER
    assert upstream.last.query == {"token": TOKEN}


@pytest.mark.parametrize(
    "behaviour",
    [
        {"error_after": 1, "error_frame": {"error": {"message": f"boom {KEY} {HEADER}"}}},
        {"drop_after": 1},
        {"stall_after": 1},
    ],
)
async def test_it_never_shows_or_logs_a_secret_mid_stream(upstream, caplog, behaviour):
    caplog.set_level(logging.DEBUG)
    upstream.behave(**behaviour)
    target = Target(
        kind="azure",
        base_url=f"http://user:{PASSWORD}@127.0.0.1:{upstream.port}",
        model="dep",
        api_version="2024-10-21",
        api_key=KEY,
        headers={"X-Custom-Auth": HEADER},
        timeouts=Timeouts(connect=1, first_byte=1, between_chunks=0.3, total=5),
    )
    streamed = await last_error(target)
    assert_no_secret([streamed.message], caplog)


def assert_no_secret(shown, caplog):
    logged = [record.getMessage() for record in caplog.records]
    assert logged  # failures are logged...
    for secret in (KEY, HEADER, PASSWORD, TOKEN):
        for text in shown + logged:
            assert secret not in text  # ...but never with a secret


async def test_it_sends_url_credentials_as_basic_auth_when_there_is_no_key(
    upstream, upstream_target
):
    base_url = f"http://user:{PASSWORD}@127.0.0.1:{upstream.port}/v1"
    await collect(replace(upstream_target, base_url=base_url), "completions", BODY)
    assert upstream.last.headers["authorization"].startswith("Basic ")


async def test_it_reports_a_key_http_cannot_carry_instead_of_crashing(upstream_target):
    target = replace(upstream_target, api_key="sk-caf\u00e9-0123456789")
    events = await collect(target, "chat", {"model": "m", "messages": [
        {"role": "user", "content": "hi"}]})
    assert isinstance(events[-1], Error)
    assert "only ASCII" in events[-1].message
    assert "caf" not in events[-1].message
    for call in (complete(target, "completions", {"model": "m", "prompt": "x"}),
                 list_models(target)):
        with pytest.raises(UpstreamError, match="only ASCII"):
            await call
