from django.urls import path, register_converter

from . import views


class Format:
    regex = "csv|jsonl"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(Format, "fmt")
app_name = "evals"
urlpatterns = [
    path("", views.index, name="index"),
    path("p/<uuid:uuid>/", views.preset_page, name="preset"),
    path("p/<uuid:uuid>/cases/add/", views.case_add, name="case_add"),
    path("p/<uuid:uuid>/cases/<uuid:case>/", views.case_edit, name="case_edit"),
    path("p/<uuid:uuid>/cases/import/", views.cases_import, name="cases_import"),
    path("p/<uuid:uuid>/cases.<fmt:fmt>", views.cases_export, name="cases_export"),
    path("p/<uuid:uuid>/assertions/add/", views.assertion_add, name="assertion_add"),
    path("p/<uuid:uuid>/assertions/<uuid:assertion>/delete/", views.assertion_delete,
         name="assertion_delete"),
    path("p/<uuid:uuid>/run/", views.batch_start, name="batch_start"),
    path("b/<uuid:uuid>/", views.batch_page, name="batch"),
    path("b/<uuid:uuid>/grid/", views.batch_grid, name="batch_grid"),
    path("b/<uuid:uuid>/cancel/", views.batch_cancel, name="batch_cancel"),
    path("b/<uuid:uuid>/export.<fmt:fmt>", views.batch_export, name="batch_export"),
    path("b/<uuid:uuid>/vs/<uuid:other>/", views.batch_compare, name="batch_compare"),
    path("cells/<uuid:uuid>/rate/", views.rate, name="rate"),
]
