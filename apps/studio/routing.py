from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/run/", consumers.RunConsumer.as_asgi()),
]
