"""htmx requests, answered alike by every app: one test for "htmx asks for a
partial", and one render for a URL that answers a partial or a whole page.

A leaf (Django only), in the lowest layer, so every app's views may import it.
"""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def is_htmx(request):
    """htmx asks for a partial. A history restore (Back to a page whose URL
    htmx pushed) is sent with HX-Request too, but needs the whole page."""
    return (request.headers.get("HX-Request") == "true"
            and not request.headers.get("HX-History-Restore-Request"))


def partial_or_page(request, partial, page, context, status=200):
    """`partial` for htmx, `page` otherwise. One URL with two answers: Vary
    tells caches (and the browser's Back) to keep them apart."""
    response = render(request, partial if is_htmx(request) else page, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
