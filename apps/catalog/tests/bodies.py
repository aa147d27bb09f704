"""Small builders shared by the validator tests."""

import pytest

from apps.catalog import ValidationFailed, validate

HELLO = [{"role": "user", "content": "hi"}]


def completions(**fields):
    return {"model": "m", "prompt": "Say hi", **fields}


def chat(**fields):
    return {"model": "m", "messages": HELLO, **fields}


def errors(endpoint, body, **options) -> list[tuple[str, str]]:
    """(field, message) of every error; fails the test if the body is valid."""
    with pytest.raises(ValidationFailed) as caught:
        validate(endpoint, body, **options)
    return [(e.field, e.message) for e in caught.value.errors]


def messages(endpoint, body, **options) -> list[str]:
    return [message for _field, message in errors(endpoint, body, **options)]
