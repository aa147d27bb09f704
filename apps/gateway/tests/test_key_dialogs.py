"""The keys page's forms as htmx posts them: a new key and a key's limits,
errors beside their fields, and on success the list (and the secret, once)
updated in place."""

import re

import pytest
from django.urls import reverse

from apps.gateway.models import GatewayKey

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"pg-[A-Za-z0-9_-]{43}")
KEYS = "/settings/keys/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def beside(html, field):
    """What follows a field's control, up to the next label."""
    start = html.index(f'name="{field}"')
    return html[start:html.find("<label", start + 1)]


def test_it_creates_a_key_and_shows_its_secret_once_with_the_list(client, owner):
    client.force_login(owner)
    response = client.post(KEYS, {"name": "nightly evals"}, **HTMX)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "<html" not in html
    (secret,) = set(SECRET.findall(html))
    key = GatewayKey.objects.get()
    assert 'id="new-key" hx-swap-oob="true"' in html and "not be shown again" in html
    assert 'id="key-rows" hx-swap-oob="true"' in html and f"{key.prefix}…" in html
    # A fresh form takes the posted one's place.
    assert 'id="key-form"' in html and 'value="nightly evals"' not in html
    assert secret not in client.get(KEYS).content.decode()


def test_it_refuses_a_bad_key_form_with_errors_beside_their_fields(client, owner, settings):
    settings.GATEWAY_MAX_REQUESTS_PER_MINUTE = 100
    client.force_login(owner)
    response = client.post(KEYS, {"name": "  ", "requests_per_minute": "500",
                                  "expires": "2000-01-01"}, **HTMX)
    assert response.status_code == 400
    html = response.content.decode()
    assert "<html" not in html and 'id="key-form"' in html
    assert "Give the key a name" in beside(html, "name")
    assert "100" in beside(html, "requests_per_minute")
    assert "Pick today or a later day." in beside(html, "expires")
    assert not SECRET.search(html)
    assert not GatewayKey.objects.exists()


def test_it_sets_a_keys_limits_in_a_dialog(client, owner, settings):
    settings.GATEWAY_MAX_REQUESTS_PER_MINUTE = 100
    key, _ = GatewayKey.create(owner, "busy script")
    url = reverse("gateway:limits", args=[key.uuid])
    client.force_login(owner)
    html = client.get(url, **HTMX).content.decode()
    assert 'id="limits-form"' in html and "<html" not in html
    assert f'hx-get="{url}"' in client.get(KEYS).content.decode()

    refused = client.post(url, {"requests_per_minute": "500", "tokens_per_day": ""}, **HTMX)
    assert refused.status_code == 400
    assert "At most 100" in beside(refused.content.decode(), "requests_per_minute")
    key.refresh_from_db()
    assert key.requests_per_minute is None

    saved = client.post(url, {"requests_per_minute": "10", "tokens_per_day": ""}, **HTMX)
    html = saved.content.decode()
    assert saved.status_code == 200 and "data-dialog-done" in html
    assert 'id="key-rows" hx-swap-oob="true"' in html and "/ 10 requests this minute" in html
    assert "Saved the limits of" in html
    key.refresh_from_db()
    assert key.requests_per_minute == 10


def test_the_limits_dialog_is_the_owners_alone(client, owner, outsider):
    key, _ = GatewayKey.create(owner, "mine")
    client.force_login(outsider)
    url = reverse("gateway:limits", args=[key.uuid])
    assert client.get(url, **HTMX).status_code == 404
    assert client.post(url, {"requests_per_minute": "1"}, **HTMX).status_code == 404


def test_the_limits_dialog_and_page_are_cached_apart(client, owner):
    key, _ = GatewayKey.create(owner, "script")
    client.force_login(owner)
    url = reverse("gateway:limits", args=[key.uuid])
    for response in (client.get(url, HTTP_HX_REQUEST="true"), client.get(url)):
        assert "HX-Request" in response["Vary"]
