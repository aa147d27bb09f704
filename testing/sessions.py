"""Signing a test user in for websocket clients, which bring their own Cookie
header (the page's browser does this by itself)."""


def session_cookie(user):
    """A Cookie header value holding a fresh session of `user`."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
