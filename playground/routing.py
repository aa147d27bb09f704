"""Websocket routes, gathered from the apps that own them."""

websocket_urlpatterns = []
