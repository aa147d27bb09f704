import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import override_settings

from apps.providers.crypto import SecretUnreadable
from apps.providers.fields import UnreadableSecret
from apps.providers.models import Model, Provider

KEY = "sk-live-7f3a9c1e5b2d4f6a8c0e"
HEADER_SECRET = "Bearer org-secret-value"


def raw_columns(provider):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key, extra_headers FROM providers_provider WHERE id = %s", [provider.pk]
        )
        return cursor.fetchone()


@pytest.fixture
def provider(db):
    return Provider.objects.create(
        name="Acme",
        base_url="https://llm.example/v1",
        api_key=KEY,
        extra_headers={"X-Org-Auth": HEADER_SECRET},
    )


def test_it_stores_no_plaintext_key_or_header_in_the_database(provider):
    api_key, headers = raw_columns(provider)

    assert KEY not in api_key and KEY[-8:] not in api_key
    assert HEADER_SECRET not in headers and "X-Org-Auth" not in headers
    assert api_key.startswith("gAAAA")  # a Fernet token

    provider = Provider.objects.get(pk=provider.pk)
    assert provider.api_key == KEY
    assert provider.extra_headers == {"X-Org-Auth": HEADER_SECRET}


def test_it_stores_an_empty_key_as_empty(db):
    provider = Provider.objects.create(name="Open", base_url="http://127.0.0.1:8080/v1")
    assert raw_columns(provider) == ("", "")
    provider.refresh_from_db()
    assert provider.api_key == "" and provider.extra_headers == {}


def test_it_still_loads_a_row_it_cannot_decrypt(provider):
    with override_settings(FERNET_KEYS=[Fernet.generate_key().decode()]):
        stranger = Provider.objects.get(pk=provider.pk)
        assert isinstance(stranger.api_key, UnreadableSecret)
        assert "FERNET_KEYS" in stranger.masked_key()

        model = Model.objects.create(provider=stranger, upstream_id="m")
        with pytest.raises(SecretUnreadable, match="Acme.*FERNET_KEYS"):
            model.target()

        # Saving the row for another reason keeps the secret it cannot read.
        stranger.enabled = False
        stranger.save()

    assert Provider.objects.get(pk=provider.pk).api_key == KEY


def test_it_names_a_bad_fernet_key_without_echoing_it(provider):
    with override_settings(FERNET_KEYS=["not-a-fernet-key"]):
        with pytest.raises(ImproperlyConfigured, match=r"FERNET_KEYS\[0\]") as error:
            Provider.objects.get(pk=provider.pk)
    assert "not-a-fernet-key" not in str(error.value)


def test_it_refuses_a_key_or_header_value_an_http_header_cannot_carry(db):
    from django.core.exceptions import ValidationError

    provider = Provider(name="Pasted", kind="openai", base_url="https://api.example.com/v1",
                        api_key="sk-abc\u00a0def-0123456789")
    with pytest.raises(ValidationError) as raised:
        provider.full_clean()
    assert "api_key" in raised.value.message_dict
    assert "\u00a0" not in str(raised.value)

    provider.api_key = "sk-abcdef-0123456789"
    provider.extra_headers = {"X-Team": "caf\u00e9"}
    with pytest.raises(ValidationError) as raised:
        provider.full_clean()
    assert "X-Team" in str(raised.value.message_dict["extra_headers"])
    assert "caf" not in str(raised.value)
