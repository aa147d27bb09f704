import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.inference import local  # noqa: E402
from playground.origins import SameOriginValidator  # noqa: E402
from playground.routing import websocket_urlpatterns  # noqa: E402

# Load the embedded model while the server starts, not on the first run: the
# first user should not wait for it. (Lazy start remains the fallback.)
local.start_in_background()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Scheme, host and port: another port of the same host is another site.
        "websocket": SameOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
