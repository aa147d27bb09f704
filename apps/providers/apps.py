from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def register_local_model(sender, using="default", **kwargs):
    from .models import Provider, ensure_local_provider

    # post_migrate also fires when providers is being migrated backwards.
    if Provider._meta.db_table not in connections[using].introspection.table_names():
        return
    ensure_local_provider(using=using)


class ProvidersConfig(AppConfig):
    name = "apps.providers"
    verbose_name = "Providers"

    def ready(self):
        # The embedded model is there after `migrate`, with no admin step.
        post_migrate.connect(register_local_model, sender=self)
