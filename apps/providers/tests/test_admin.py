import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import override_settings

from apps.providers.models import Model, Provider

KEY = "sk-live-7f3a9c1e5b2d4f6a8c0e"
HEADER_SECRET = "org-secret-value-42"
LIST = "/admin/providers/provider/"


def change_url(provider):
    return f"{LIST}{provider.pk}/change/"


@pytest.fixture
def provider(db):
    return Provider.objects.create(
        name="Acme",
        base_url="https://llm.example/v1",
        api_key=KEY,
        extra_headers={"X-Org-Auth": HEADER_SECRET},
    )


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def form_data(provider, **changes):
    """What the change form posts back for `provider`, secrets left blank."""
    data = {
        "name": provider.name,
        "kind": provider.kind,
        "base_url": provider.base_url,
        "api_version": provider.api_version,
        "enabled": "on",
        "api_key": "",
        "extra_headers": "",
        "connect_timeout": provider.connect_timeout,
        "first_byte_timeout": provider.first_byte_timeout,
        "between_chunks_timeout": provider.between_chunks_timeout,
        "total_timeout": provider.total_timeout,
        "unknown_fields": provider.unknown_fields,
        "batch_concurrency": provider.batch_concurrency,
        "models-TOTAL_FORMS": 0,
        "models-INITIAL_FORMS": 0,
        "models-MIN_NUM_FORMS": 0,
        "models-MAX_NUM_FORMS": 1000,
    }
    data.update(changes)
    return data


def raw_key(provider):
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM providers_provider WHERE id = %s", [provider.pk])
        return cursor.fetchone()[0]


def test_it_shows_the_key_masked_and_never_whole(admin_client, provider):
    for url in (LIST, change_url(provider)):
        html = admin_client.get(url).content.decode()
        assert "••••8c0e" in html
        assert KEY not in html and KEY[:-4] not in html
        assert HEADER_SECRET not in html

    html = admin_client.get(change_url(provider)).content.decode()
    assert 'type="password" name="api_key"' in html
    assert "X-Org-Auth" in html  # header names are shown, values are not


def test_it_shows_nothing_of_a_short_key(admin_client, provider):
    provider.api_key = "abc123xyz"
    provider.save()
    html = admin_client.get(LIST).content.decode()
    assert "••••" in html and "3xyz" not in html


def test_it_keeps_the_key_and_headers_when_the_fields_are_left_blank(admin_client, provider):
    response = admin_client.post(change_url(provider), form_data(provider, name="Acme 2"))

    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.name == "Acme 2"
    assert provider.api_key == KEY
    assert provider.extra_headers == {"X-Org-Auth": HEADER_SECRET}


def test_it_replaces_the_key_and_headers_when_new_ones_are_typed(admin_client, provider):
    data = form_data(provider, api_key="sk-new-0000111122223333", extra_headers='{"X-New": "v"}')
    assert admin_client.post(change_url(provider), data).status_code == 302

    provider.refresh_from_db()
    assert provider.api_key == "sk-new-0000111122223333"
    assert provider.extra_headers == {"X-New": "v"}


def test_it_removes_the_key_and_headers_on_request(admin_client, provider):
    data = form_data(provider, clear_api_key="on", extra_headers="{}")
    assert admin_client.post(change_url(provider), data).status_code == 302

    provider.refresh_from_db()
    assert provider.api_key == "" and provider.extra_headers == {}
    assert "—" in admin_client.get(LIST).content.decode()


def test_it_adds_a_provider_with_an_encrypted_key(admin_client, db):
    data = form_data(
        Provider(name="New", base_url="http://127.0.0.1:8080/v1"), api_key="sk-added-123456789"
    )
    assert admin_client.post(f"{LIST}add/", data).status_code == 302

    provider = Provider.objects.get(name="New")
    assert provider.api_key == "sk-added-123456789"
    assert "sk-added" not in raw_key(provider)


def test_it_explains_a_bad_header_value_without_echoing_stored_secrets(admin_client, provider):
    data = form_data(provider, extra_headers='{"X-A": 1}')
    html = admin_client.post(change_url(provider), data).content.decode()
    assert "must be a single line of printable ASCII" in html
    assert HEADER_SECRET not in html


def test_it_shows_a_key_it_cannot_decrypt_instead_of_crashing(admin_client, provider):
    before = raw_key(provider)
    with override_settings(FERNET_KEYS=[Fernet.generate_key().decode()]):
        for url in (LIST, change_url(provider)):
            response = admin_client.get(url)
            assert response.status_code == 200
            assert "not encrypted under any of FERNET_KEYS" in response.content.decode()
        # Editing something else keeps the secret for when the key is back.
        data = form_data(provider, name="Acme renamed")
        assert admin_client.post(change_url(provider), data).status_code == 302

    assert raw_key(provider) == before
    assert Provider.objects.get(pk=provider.pk).api_key == KEY


def test_it_keeps_the_admin_for_staff(client, owner, provider):
    client.force_login(owner)
    assert client.get(LIST).status_code == 302


def test_it_filters_models_by_endpoint(admin_client, provider):
    Model.objects.create(provider=provider, upstream_id="chat-only", serves_completions=False)
    Model.objects.create(provider=provider, upstream_id="text-only", serves_chat=False)

    html = admin_client.get("/admin/providers/model/?endpoint=chat").content.decode()
    assert "chat-only" in html and "text-only" not in html


def test_it_does_not_show_typed_secrets_again_after_an_error_elsewhere(admin_client, provider):
    typed_key, typed_header = "sk-typed-9d8c7b6a5f4e3d2c", "typed-header-secret-77"
    data = form_data(provider, base_url="ftp://llm.example", api_key=typed_key,
                     extra_headers=f'{{"X-Typed": "{typed_header}"}}')
    response = admin_client.post(change_url(provider), data)

    html = response.content.decode()
    assert response.status_code == 200 and "Enter an http:// or https:// URL." in html
    assert typed_header not in html and typed_key not in html
    assert HEADER_SECRET not in html and KEY not in html
    provider.refresh_from_db()
    assert provider.extra_headers == {"X-Org-Auth": HEADER_SECRET}
