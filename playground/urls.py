from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("apps.accounts.urls")),
    path("history/", include("apps.history.urls")),
    path("presets/", include("apps.presets.urls")),
    path("compare/", include("apps.compare.urls")),
    path("evals/", include("apps.evals.urls")),
    path("", include("apps.gateway.urls")),  # /v1/ API and /settings/keys/
    path("", include("apps.studio.urls")),
]
