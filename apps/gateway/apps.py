from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "apps.gateway"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from apps.runs import cache

        from .models import GatewayKey

        # Cached keys and models are dropped in every process when one of
        # them (or a user, a provider) changes: apps/runs/cache.py.
        cache.connect_signals()

        def changed(sender, **kwargs):
            cache.bump()

        post_save.connect(changed, sender=GatewayKey, dispatch_uid="gateway.cache.save",
                          weak=False)
        post_delete.connect(changed, sender=GatewayKey, dispatch_uid="gateway.cache.delete",
                            weak=False)
