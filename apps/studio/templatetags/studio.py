import json

from django import template

register = template.Library()


@register.filter
def get(mapping, key):
    """{{ initial|get:field.name }}: a dict lookup by a variable key."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def pretty_json(value):
    if value is None or value == "":
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False)


@register.filter
def as_text(value):
    """A form control's value: JSON for anything that is not a plain string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
