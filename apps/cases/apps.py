from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "apps.cases"

    def ready(self):
        from . import signals  # noqa: F401 (connects the receivers)
