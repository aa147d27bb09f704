"""Websocket routes, gathered from the apps that own them."""

from apps.studio.routing import websocket_urlpatterns as studio

websocket_urlpatterns = [*studio]
