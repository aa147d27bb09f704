from django.urls import path

from . import views

app_name = "history"
urlpatterns = [
    path("", views.run_list, name="list"),
    path("runs/<uuid:uuid>/", views.run_detail, name="run"),
    path("runs/<uuid:uuid>/rerun/", views.rerun, name="rerun"),
    path("runs/<uuid:uuid>/tokens/", views.run_tokens, name="tokens"),
    path("runs/<uuid:uuid>/fork/", views.fork, name="fork"),
    path("runs/<uuid:uuid>/delete/", views.run_delete, name="delete"),
    path("diff/", views.diff, name="diff"),
    path("conversations/", views.conversation_list, name="conversations"),
    path(
        "conversations/<uuid:uuid>/delete/",
        views.conversation_delete,
        name="conversation_delete",
    ),
]
