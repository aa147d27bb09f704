"""The base layout's navigation: which item is the current page's."""

from django import template

register = template.Library()

# url names whose page belongs to another nav item than their app's namespace.
SECTION_OF_VIEW = {
    "compare:list": "history",
    "compare:run_share": "history",
    "compare:run_snapshot": "history",
    "gateway:keys": "keys",
    "gateway:limits": "keys",
}
SECTION_OF_NAMESPACE = {
    "compare": "compare",
    "history": "history",
    "presets": "presets",
    "gateway": "keys",
}


@register.simple_tag(takes_context=True)
def nav_section(context):
    """The nav item to mark as current: a page may name it (`section`: the
    playground, whichever url opened it, is its mode's), else the url name."""
    if context.get("section"):
        return context["section"]
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    return SECTION_OF_VIEW.get(match.view_name) or SECTION_OF_NAMESPACE.get(match.namespace, "")
