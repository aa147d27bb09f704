"""Mounted at the site root: the /v1 API (the paths OpenAI's SDKs expect,
without trailing slashes) and the keys page under /settings/."""

from django.urls import path, re_path

from . import views

app_name = "gateway"
urlpatterns = [
    path("v1/models", views.models, name="models"),
    path("v1/models/<path:name>", views.model, name="model"),
    path("v1/completions", views.completions, name="completions"),
    path("v1/chat/completions", views.chat_completions, name="chat_completions"),
    # Anything else under /v1 is OpenAI's JSON 404, not Django's HTML page.
    re_path(r"^v1(?:/.*)?$", views.unknown, name="unknown"),
    path("settings/keys/", views.keys, name="keys"),
    path("settings/keys/<uuid:uuid>/limits/", views.key_limits, name="limits"),
    path("settings/keys/<uuid:uuid>/revoke/", views.revoke, name="revoke"),
]
