from django.urls import path

from . import views

app_name = "history"
urlpatterns = [
    path("", views.run_list, name="list"),
    path("runs/<uuid:uuid>/", views.run_detail, name="run"),
]
