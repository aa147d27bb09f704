"""Which numeric fields get a slider beside their number box."""

from django import template

register = template.Library()

# Past this span a slider step is thousands of values wide (seed spans 2**64):
# the number box alone is the better control.
MAX_SLIDER_SPAN = 100_000


@register.filter
def has_slider(field):
    """A documented range (both ends) that a slider can cover usefully."""
    low, high = field.minimum, field.maximum
    return low is not None and high is not None and high - low <= MAX_SLIDER_SPAN
