"""Per-key limits on the gateway: requests per minute and tokens per day, set
by the key's owner within the staff's maxima, counted in Redis when there is
one (shared by every server process); over a limit, 429 in OpenAI's shape
with a Retry-After header."""

import os
import time
from datetime import timedelta

import httpx
import openai
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from apps.gateway.models import GatewayKey

from .conftest import gateway_client, stored_runs

COMPLETION = {"model": "Echo", "prompt": "x"}


def fresh_minute(margin=10):
    """Start a test that counts requests per minute well inside one minute:
    the windows are the clock's minutes."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.2)


def limited_key(owner, **limits):
    return GatewayKey.create(owner, "limited", **limits)


def complete(app_url, secret, **body):
    return httpx.post(f"{app_url}/v1/completions", json={**COMPLETION, **body},
                      headers={"Authorization": f"Bearer {secret}"}, timeout=15)


def session_cookies(user):
    client = Client()
    client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


def test_it_answers_429_with_retry_after_over_the_requests_per_minute(app_url, fake_model, owner):
    _, secret = limited_key(owner, requests_per_minute=3)
    fresh_minute()
    for _ in range(3):
        assert complete(app_url, secret).status_code == 200

    refused = complete(app_url, secret)

    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json() == {"error": {
        "message": refused.json()["error"]["message"],
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }}
    assert "3 requests per minute" in refused.json()["error"]["message"]
    with pytest.raises(openai.RateLimitError):
        gateway_client(app_url, secret).models.list()
    assert len(stored_runs(3)) == 3  # a refused call never reaches the upstream


def test_it_refuses_a_key_that_used_its_tokens_for_the_day(app_url, fake_model, upstream, owner):
    # The test upstream's usage: 1 prompt token + one per chunk = 7 a call.
    upstream.behave(chunks=["a", "b", "c", "d", "e", "f"])
    _, secret = limited_key(owner, tokens_per_day=10, requests_per_minute=100)
    fresh_minute()
    sdk = gateway_client(app_url, secret)

    streamed = "".join(c.choices[0].text for c in sdk.completions.create(**COMPLETION, stream=True)
                       if c.choices)
    assert streamed == "abcdef"
    assert sdk.completions.create(**COMPLETION).usage.total_tokens == 7  # 14 used now

    refused = complete(app_url, secret)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "insufficient_quota"
    assert "10 tokens for today" in refused.json()["error"]["message"]
    now = timezone.now()
    until_midnight = (now.replace(hour=0, minute=0, second=0) + timedelta(days=1) - now)
    assert abs(int(refused.headers["Retry-After"]) - until_midnight.total_seconds()) < 60
    # Refused before it was made: not one of this minute's requests.
    page = httpx.get(f"{app_url}/settings/keys/", cookies=session_cookies(owner)).text
    assert "2 / 100 requests this minute" in page
    # Another key of the same owner has its own day.
    _, other = limited_key(owner, tokens_per_day=10)
    assert complete(app_url, other).status_code == 200


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the production shape (REDIS_URL)")
def test_it_counts_a_key_across_two_server_processes(app_url, second_app_url, fake_model, owner):
    _, secret = limited_key(owner, requests_per_minute=4)
    fresh_minute()
    for server in (app_url, second_app_url, app_url, second_app_url):
        assert complete(server, secret).status_code == 200

    # Each process alone has seen 2 of 4: only a shared count refuses these.
    assert complete(app_url, secret).status_code == 429
    assert complete(second_app_url, secret).status_code == 429


def test_it_refuses_an_expired_key(app_url, fake_model, owner):
    key, secret = limited_key(owner, expires=timezone.now().date())
    assert complete(app_url, secret).status_code == 200
    key.expires = timezone.now().date() - timedelta(days=1)
    key.save()

    refused = complete(app_url, secret)
    assert refused.status_code == 401
    assert "expired" in refused.json()["error"]["message"]


def test_the_keys_page_shows_usage_against_limits(app_url, fake_model, upstream, owner):
    upstream.behave(chunks=["a", "b", "c", "d", "e", "f"])
    key, secret = limited_key(owner, requests_per_minute=5, tokens_per_day=1000)
    fresh_minute()
    complete(app_url, secret)
    httpx.get(f"{app_url}/v1/models", headers={"Authorization": f"Bearer {secret}"})

    page = httpx.get(f"{app_url}/settings/keys/", cookies=session_cookies(owner)).text

    assert "2 / 5 requests this minute" in page
    assert "7 / 1,000 tokens today (UTC)" in page
    assert secret not in page


def test_an_owner_sets_limits_within_the_staff_maxima(client, owner, settings):
    settings.GATEWAY_MAX_REQUESTS_PER_MINUTE = 100
    settings.GATEWAY_MAX_TOKENS_PER_DAY = 50_000
    key, _ = limited_key(owner)
    client.force_login(owner)
    url = f"/settings/keys/{key.uuid}/limits/"
    assert "At most 100." in client.get(url).content.decode()

    too_much = client.post(url, {"requests_per_minute": 101, "tokens_per_day": 50_001})
    assert too_much.status_code == 200
    html = too_much.content.decode()
    assert "At most 100 (the site&#x27;s maximum)." in html
    assert "At most 50,000 (the site&#x27;s maximum)." in html
    key.refresh_from_db()
    assert key.requests_per_minute is None and key.tokens_per_day is None

    saved = client.post(url, {"requests_per_minute": 100, "tokens_per_day": 20_000})
    assert saved.status_code == 302
    key.refresh_from_db()
    assert (key.requests_per_minute, key.tokens_per_day) == (100, 20_000)
    page = client.get("/settings/keys/").content.decode()
    assert "0 / 100 requests this minute" in page and "0 / 20,000 tokens today" in page


def test_an_owner_cannot_create_a_key_above_the_maxima(client, owner, settings):
    settings.GATEWAY_MAX_REQUESTS_PER_MINUTE = 100
    client.force_login(owner)
    response = client.post("/settings/keys/", {"name": "greedy", "requests_per_minute": 1000})
    assert "At most 100 (the site&#x27;s maximum)." in response.content.decode()
    assert not GatewayKey.objects.exists()


def test_a_key_without_limits_of_its_own_gets_the_maxima(client, owner, outsider, settings):
    settings.GATEWAY_MAX_REQUESTS_PER_MINUTE = 100
    settings.GATEWAY_MAX_TOKENS_PER_DAY = 0  # no maximum
    limited_key(owner)
    client.force_login(owner)
    page = client.get("/settings/keys/").content.decode()
    assert "0 / 100 requests this minute" in page
    assert "0 / no limit tokens today" in page
    # Nobody edits someone else's key.
    key = GatewayKey.objects.get()
    client.force_login(outsider)
    assert client.get(f"/settings/keys/{key.uuid}/limits/").status_code == 404
