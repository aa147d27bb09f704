"""Secrets at rest: Fernet tokens under the keys in settings.FERNET_KEYS.

The keys are listed newest first, so MultiFernet encrypts with the newest and
decrypts with any of them: a new key can be added, `rotate_secrets` run, and
the old key removed, without a moment where a stored secret is unreadable.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored secret was not encrypted under any key in FERNET_KEYS."""


@lru_cache(maxsize=4)
def _multifernet(keys):
    fernets = []
    for position, key in enumerate(keys):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            # Never echo the key itself: it may be a real one with a typo.
            raise ImproperlyConfigured(
                f"FERNET_KEYS[{position}] is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    if not fernets:
        raise ImproperlyConfigured("FERNET_KEYS is empty: secrets cannot be encrypted.")
    return MultiFernet(fernets)


def multifernet():
    # Keyed on the current setting, so override_settings (and a changed
    # environment after a restart) takes effect without stale state.
    return _multifernet(tuple(settings.FERNET_KEYS))


def encrypt(plaintext: str) -> str:
    return multifernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return multifernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with the configured FERNET_KEYS "
            "(was the key it was encrypted with removed?)."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a token under the newest key (keeps its timestamp)."""
    try:
        return multifernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("A stored secret cannot be decrypted with FERNET_KEYS.") from None
