import asyncio
import functools
import gc
import logging
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from apps.inference import local  # noqa: E402
from apps.inference.client import close_shared_client  # noqa: E402
from apps.runs import engine, keeper  # noqa: E402
from playground.api import ApiHandler, is_api  # noqa: E402
from playground.origins import SameOriginValidator  # noqa: E402
from playground.routing import websocket_urlpatterns  # noqa: E402

# Load the embedded model while the server starts, not on the first run: the
# first user should not wait for it. (Lazy start remains the fallback.)
local.start_in_background()
# Renew this process's run leases; runs a dead process left become interrupted.
if settings.RUN_KEEPER:
    keeper.start()


def _store_runs_on_shutdown():
    """Under daphne, a clean stop (SIGTERM, SIGINT, `make run`'s Ctrl-C)
    stores this process's runs as interrupted, with every token that
    arrived and any first save still held back (engine.close), before the
    event loop ends: not left `running` until their lease runs out."""
    from twisted.internet import defer, reactor

    async def close():
        try:
            await engine.close()
        except Exception:  # Twisted's log goes nowhere under daphne
            log.exception("storing the runs in flight at shutdown failed")
        # Then the upstream connections (aiohttp's must close in their loop).
        await close_shared_client()

    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: defer.Deferred.fromFuture(asyncio.ensure_future(close()))
    )


def _parse_content_types_once():
    """Twisted parses the Content-Type of every POST with the email package
    (to spot form bodies): ~0.3 ms, 7 % of a gateway call's CPU. Its answer
    depends on the header's value alone, and clients send a handful of
    values, so each is parsed once (a bounded cache: the same function)."""
    from twisted.web import http as twisted_http

    parse = twisted_http._parseContentType
    if not hasattr(parse, "cache_info"):
        twisted_http._parseContentType = functools.lru_cache(maxsize=256)(parse)


def _freeze_when_serving():
    """Once the server runs, what is loaded lives as long as the process.
    Frozen, it is out of the cyclic garbage collector's sight, so a full
    collection no longer walks all of Django and the libraries each time:
    that walk took ~40 ms every second or two under load, and set a gateway
    call's p99 (bench/README.md, session 9). Not on import: a test run
    imports this module too, and its heap must stay collectable."""
    from twisted.internet import reactor

    def freeze():
        gc.collect()  # no garbage of the start-up made permanent
        gc.freeze()

    reactor.callWhenRunning(freeze)


# daphne installs Twisted's asyncio reactor before it imports this module.
if "twisted.internet.reactor" in sys.modules:
    _store_runs_on_shutdown()
    _parse_content_types_once()
    _freeze_when_serving()

api_app = ApiHandler()
log = logging.getLogger(__name__)


async def http(scope, receive, send):
    """/v1 past the page middleware (playground/api.py); the pages, the
    admin and static files (WhiteNoise) through Django's full chain."""
    app = api_app if is_api(scope) else django_asgi_app
    await app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http,
        # Scheme, host and port: another port of the same host is another site.
        "websocket": SameOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
