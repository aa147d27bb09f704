from django.urls import path

from . import views

app_name = "studio"
urlpatterns = [
    path("", views.chat, name="chat"),
    path("completions/", views.completions, name="completions"),
    path("c/<uuid:uuid>/", views.conversation, name="conversation"),
    path("tokens/", views.token_count, name="token_count"),
]
