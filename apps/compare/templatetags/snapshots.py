"""Filters for read-only snapshots (studio's own filters belong to studio)."""

import json

from django import template

register = template.Library()

INPUT_FIELDS = ("model", "prompt", "messages")


@register.filter
def without_input(request_body):
    """A run's request without its input: the parameters it was sent with."""
    return {k: v for k, v in (request_body or {}).items() if k not in INPUT_FIELDS}


@register.filter
def as_json(value):
    return json.dumps(value, indent=2, ensure_ascii=False)


@register.filter
def as_text(value):
    """Message content: a string as is, anything else (content blocks) as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
