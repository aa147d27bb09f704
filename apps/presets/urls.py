from django.urls import path

from . import views

app_name = "presets"
urlpatterns = [
    path("", views.preset_list, name="list"),
    path("new/", views.create, name="create"),
    path("code/", views.code, name="code"),
    path("import/", views.import_presets, name="import"),
    path("export/", views.export_all, name="export"),
    path("s/<str:token>/", views.shared, name="shared"),
    path("s/<str:token>/open/", views.open_shared, name="open_shared"),
    path("s/<str:token>/fork/", views.fork_shared, name="fork_shared"),
    path("<uuid:uuid>/", views.detail, name="detail"),
    path("<uuid:uuid>/v/<int:number>/", views.version_detail, name="version"),
    path("<uuid:uuid>/open/", views.open_preset, name="open"),
    path("<uuid:uuid>/save/", views.save_version, name="save_version"),
    path("<uuid:uuid>/edit/", views.edit, name="edit"),
    path("<uuid:uuid>/share/", views.share, name="share"),
    path("<uuid:uuid>/fork/", views.fork, name="fork"),
    path("<uuid:uuid>/delete/", views.delete, name="delete"),
    path("<uuid:uuid>/export/", views.export_one, name="export_one"),
]
