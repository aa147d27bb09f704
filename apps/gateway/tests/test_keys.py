"""Gateway keys: created on the keys page, the secret shown once and stored
only as a hash, listed by prefix, revocable; staff see and revoke every key
in admin, never the secret."""

import hashlib
import re

import pytest
from django.urls import reverse

from apps.gateway.models import GatewayKey

SECRET = re.compile(r"pg-[A-Za-z0-9_-]{43}")
KEYS = "/settings/keys/"


def authenticate(secret):
    return GatewayKey.objects.authenticate(secret)


def create_on_page(client, name="CI evals"):
    response = client.post(KEYS, {"name": name})
    assert response.status_code == 200
    (secret,) = set(SECRET.findall(response.content.decode()))
    return response, secret


def every_column(key):
    key.refresh_from_db()
    return [str(getattr(key, f.attname)) for f in GatewayKey._meta.concrete_fields]


def test_it_shows_the_secret_once_and_never_again(client, owner):
    client.force_login(owner)
    response, secret = create_on_page(client)
    assert "no-store" in response["Cache-Control"]
    key = GatewayKey.objects.get()

    listed = client.get(KEYS).content.decode()
    assert secret not in listed
    assert f"{key.prefix}…" in listed
    assert not SECRET.search(listed)


def test_it_keeps_the_keys_page_out_of_every_cache(client, owner):
    """htmx swaps the new secret into the GET page: were that page cached,
    the Back button would show the secret again."""
    client.force_login(owner)
    for response in (client.get(KEYS), client.post(KEYS, {"name": ""}),
                     client.post(KEYS, {"name": "x"}, headers={"HX-Request": "true"})):
        assert "no-store" in response["Cache-Control"]


def test_it_stores_only_the_hash_of_the_secret(client, owner):
    client.force_login(owner)
    _, secret = create_on_page(client)
    key = GatewayKey.objects.get()
    assert key.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert key.prefix == secret[:10]
    # No column holds the secret, or any part of it beyond the shown prefix.
    for value in every_column(key):
        assert secret not in value
        assert secret[10:20] not in value


def test_it_lists_the_users_keys_with_name_and_times(client, owner, teammate):
    used, _ = GatewayKey.create(owner, "nightly evals")
    used.touch()
    GatewayKey.create(owner, "notebook")
    GatewayKey.create(teammate, "not mine")
    client.force_login(owner)
    page = client.get(KEYS).content.decode()
    assert "nightly evals" in page and "notebook" in page
    assert "not mine" not in page
    assert used.created.strftime("%Y-%m-%d %H:%M") in page
    assert used.last_used.strftime("%Y-%m-%d %H:%M") in page
    assert "never" in page  # the unused one


def test_it_authenticates_the_secret_until_the_key_is_revoked(client, owner):
    key, secret = GatewayKey.create(owner, "script")
    assert authenticate(secret) == key
    assert authenticate(secret + "x") is None
    assert authenticate("pg-" + "A" * 43) is None

    client.force_login(owner)
    assert client.get(reverse("gateway:revoke", args=[key.uuid])).status_code == 405
    response = client.post(reverse("gateway:revoke", args=[key.uuid]))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.is_revoked
    assert authenticate(secret) is None
    assert "Revoked" in client.get(KEYS).content.decode()


def test_it_stops_a_deactivated_users_keys(owner):
    _, secret = GatewayKey.create(owner, "script")
    owner.is_active = False
    owner.save()
    assert authenticate(secret) is None


def test_it_does_not_revoke_someone_elses_key(client, owner, outsider):
    key, secret = GatewayKey.create(owner, "script")
    client.force_login(outsider)
    assert client.post(reverse("gateway:revoke", args=[key.uuid])).status_code == 404
    assert authenticate(secret) == key


def test_it_needs_a_name(client, owner):
    client.force_login(owner)
    response = client.post(KEYS, {"name": "   "}, follow=True)
    assert "Give the key a name" in response.content.decode()
    assert not GatewayKey.objects.exists()


def test_it_needs_sign_in(client, db):
    assert client.get(KEYS).status_code == 302
    assert client.post(KEYS, {"name": "x"}).status_code == 302
    assert not GatewayKey.objects.exists()


def test_it_links_the_keys_page_from_every_page(client, owner):
    client.force_login(owner)
    assert f'href="{KEYS}"' in client.get(reverse("history:list")).content.decode()


# ---- admin --------------------------------------------------------------------


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_staff_see_every_key_in_admin_but_never_the_secret(staff_client, owner, teammate):
    mine, secret = GatewayKey.create(owner, "owner's script")
    GatewayKey.create(teammate, "teammate's notebook")
    listing = staff_client.get(reverse("admin:gateway_gatewaykey_changelist")).content.decode()
    assert "owner&#x27;s script" in listing and "teammate&#x27;s notebook" in listing
    assert mine.prefix in listing
    detail = staff_client.get(
        reverse("admin:gateway_gatewaykey_change", args=[mine.pk])
    ).content.decode()
    for page in (listing, detail):
        assert secret not in page
        assert mine.digest not in page
        assert not SECRET.search(page)


def test_staff_revoke_keys_in_admin(staff_client, owner):
    key, secret = GatewayKey.create(owner, "leaked")
    response = staff_client.post(
        reverse("admin:gateway_gatewaykey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
        follow=True,
    )
    assert "Revoked 1 key" in response.content.decode()
    assert authenticate(secret) is None


def test_staff_cannot_create_keys_for_others_in_admin(staff_client):
    assert staff_client.get(reverse("admin:gateway_gatewaykey_add")).status_code == 403


def test_staff_set_a_keys_limits_in_admin_within_the_maxima(staff_client, owner, settings):
    settings.GATEWAY_MAX_REQUESTS_PER_MINUTE = 100
    key, _ = GatewayKey.create(owner, "busy script")
    url = reverse("admin:gateway_gatewaykey_change", args=[key.pk])

    too_much = staff_client.post(url, {"requests_per_minute": 500, "tokens_per_day": ""})
    assert "At most 100 (the site&#x27;s maximum)." in too_much.content.decode()
    saved = staff_client.post(url, {"requests_per_minute": 10, "tokens_per_day": ""})
    assert saved.status_code == 302
    key.refresh_from_db()
    assert key.requests_per_minute == 10 and key.name == "busy script"
