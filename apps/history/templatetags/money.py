from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def usd(value):
    """A run's cost: "$0.000123" (at most 6 decimals, at least 2), or "—"
    when unknown."""
    if value is None or value == "":
        return "—"
    text = f"{Decimal(value):.6f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"
