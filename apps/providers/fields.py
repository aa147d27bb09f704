"""Model fields whose value is encrypted in the database column.

In Python the value is plaintext (a str, or a dict for the JSON field); the
column holds a Fernet token. An empty value is stored as "" unencrypted: it
reveals nothing, and "is a key set?" stays answerable without the keys.

Lookups on these fields never match (every token is different): they are for
secrets, not for searching.

Serialized (`dumpdata`), a value is its token, marked "fernet:": a dump holds
no plaintext, and `loaddata` with the same FERNET_KEYS restores the secret.
A token that cannot be decrypted is loaded as is (UnreadableSecret), so a
dump restored before its key is configured keeps the secret intact.
"""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

from . import crypto

# Marks a serialized value as a token, never a plaintext secret that happens
# to look like one (some services' API keys are Fernet tokens themselves).
TOKEN_PREFIX = "fernet:"


class UnreadableSecret:
    """Stands in for a value that FERNET_KEYS cannot decrypt.

    Loading a row must not fail just because a key was lost (the admin page
    would crash); the token is kept as is, so saving the row again writes it
    back unchanged, and code that needs the plaintext raises SecretUnreadable.
    Deliberately not a str, so it cannot be sent upstream by accident.
    """

    def __init__(self, token):
        self.token = token

    def __bool__(self):
        # A secret is set, we just cannot read it.
        return True

    def __eq__(self, other):
        return isinstance(other, UnreadableSecret) and other.token == self.token

    def __hash__(self):
        return hash(self.token)

    def __repr__(self):
        return "<UnreadableSecret>"


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest with FERNET_KEYS"

    def empty(self):
        return ""

    def encode(self, value):
        return value

    def decode(self, text):
        return text

    def from_db_value(self, value, expression, connection):
        if not value:
            return self.empty()
        try:
            return self.decode(crypto.decrypt(value))
        except crypto.SecretUnreadable:
            return UnreadableSecret(value)

    def to_python(self, value):
        if isinstance(value, UnreadableSecret):
            return value
        if isinstance(value, str) and value.startswith(TOKEN_PREFIX):
            return self.from_db_value(value.removeprefix(TOKEN_PREFIX), None, None)
        return super().to_python(value)

    def value_to_string(self, obj):
        """The serialized value: the token, never the plaintext."""
        token = self.get_prep_value(self.value_from_object(obj))
        return TOKEN_PREFIX + token if token else ""

    def get_prep_value(self, value):
        if isinstance(value, UnreadableSecret):
            return value.token
        if not value:
            return ""
        return crypto.encrypt(self.encode(value))


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (here: a dict of headers) encrypted as one token."""

    description = "JSON encrypted at rest with FERNET_KEYS"

    def empty(self):
        return {}

    def encode(self, value):
        return json.dumps(value, sort_keys=True)

    def decode(self, text):
        return json.loads(text)

    def to_python(self, value):
        if not isinstance(value, str):
            return value
        if value.startswith(TOKEN_PREFIX):
            return super().to_python(value)
        if not value:
            return self.empty()
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ValidationError("Enter valid JSON.", code="invalid") from None

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": forms.JSONField, **kwargs})
