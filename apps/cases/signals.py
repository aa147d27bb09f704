"""Cases follow their preset without presets importing this layer's code
the wrong way round: a fork copies them, a new version snapshots them."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import CaseSnapshot, copy_cases


@receiver(post_save, sender="presets.Preset")
def _forked(sender, instance, created, raw=False, **kwargs):
    if created and not raw and instance.forked_from_id is not None:
        copy_cases(instance.forked_from, instance)


@receiver(post_save, sender="presets.PresetVersion")
def _versioned(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        preset = instance.preset
        CaseSnapshot.objects.create(
            version=instance,
            cases=preset.cases.as_rows(),
            assertions=[a.as_export() for a in preset.assertions.select_related("judge_model")],
        )
