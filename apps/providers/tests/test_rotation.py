import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from apps.providers.models import Provider

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
KEY_C = Fernet.generate_key().decode()


def raw_key(provider):
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM providers_provider WHERE id = %s", [provider.pk])
        return cursor.fetchone()[0]


def make_provider(name, key):
    return Provider.objects.create(
        name=name, base_url="https://llm.example/v1", api_key=key, extra_headers={"X-A": "b"}
    )


def test_it_rotates_every_secret_to_the_newest_key(db, capsys):
    with override_settings(FERNET_KEYS=[KEY_A]):
        provider = make_provider("Acme", "sk-acme-0123456789")
        under_a = raw_key(provider)

    with override_settings(FERNET_KEYS=[KEY_B, KEY_A]):
        # A new key in front: old secrets still read.
        assert Provider.objects.get(pk=provider.pk).api_key == "sk-acme-0123456789"
        call_command("rotate_secrets")

    out = capsys.readouterr().out
    assert "providers.Provider.api_key: 1 re-encrypted" in out
    assert "providers.Provider.extra_headers: 1 re-encrypted" in out
    assert "2 secrets re-encrypted" in out
    assert raw_key(provider) != under_a

    with override_settings(FERNET_KEYS=[KEY_B]):
        # The old key is gone and nothing was lost.
        provider = Provider.objects.get(pk=provider.pk)
        assert provider.api_key == "sk-acme-0123456789"
        assert provider.extra_headers == {"X-A": "b"}


def test_it_rotates_what_it_can_and_fails_on_what_it_cannot_read(db, capsys):
    with override_settings(FERNET_KEYS=[KEY_C]):
        lost = make_provider("Lost", "sk-lost-0123456789")
        lost_token = raw_key(lost)
    with override_settings(FERNET_KEYS=[KEY_A]):
        kept = make_provider("Kept", "sk-kept-0123456789")

    with override_settings(FERNET_KEYS=[KEY_B, KEY_A]):
        with pytest.raises(CommandError, match="2 stored secrets cannot be decrypted"):
            call_command("rotate_secrets")

    assert "1 unreadable" in capsys.readouterr().out
    assert raw_key(lost) == lost_token
    with override_settings(FERNET_KEYS=[KEY_B]):
        assert Provider.objects.get(pk=kept.pk).api_key == "sk-kept-0123456789"
