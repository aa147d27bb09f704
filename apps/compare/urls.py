from django.urls import path

from . import views

app_name = "compare"
urlpatterns = [
    path("", views.new, name="new"),
    path("list/", views.comparison_list, name="list"),
    path("save/", views.save_round, name="save"),
    path("diff/", views.diff, name="diff"),
    path("from-run/<uuid:uuid>/", views.from_run, name="from_run"),
    path("s/<str:token>/", views.snapshot, name="snapshot"),
    path("runs/<uuid:uuid>/share/", views.run_share, name="run_share"),
    path("r/<str:token>/", views.run_snapshot, name="run_snapshot"),
    path("<uuid:uuid>/", views.detail, name="detail"),
    path("<uuid:uuid>/share/", views.share, name="share"),
    path("<uuid:uuid>/delete/", views.delete, name="delete"),
    path("<uuid:uuid>/vote/", views.vote, name="vote"),
]
