"""Mounted at the site root: the keys page under /settings/."""

from django.urls import path

from . import views

app_name = "gateway"
urlpatterns = [
    path("settings/keys/", views.keys, name="keys"),
    path("settings/keys/<uuid:uuid>/revoke/", views.revoke, name="revoke"),
]
