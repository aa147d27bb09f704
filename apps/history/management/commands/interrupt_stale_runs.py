"""Mark runs left "running" by a stopped server as interrupted.

Every server process does this by itself (apps/runs/keeper.py): a run whose
process stopped renewing its lease is interrupted, with its checkpointed
output, within RUN_LEASE_SECONDS. This command does the same sweep at once:
without arguments it interrupts runs whose lease ran out; `make run` calls it
with --older-than 0 before the one server process starts (nothing can be
running yet, so every "running" run is left over).
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.history.models import Run


class Command(BaseCommand):
    help = 'Mark runs a stopped server left "running" as interrupted.'

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            help="seconds: interrupt every running run started before then, lease or not "
            "(default: only runs whose lease ran out)",
        )

    def handle(self, *args, older_than=None, **options):
        if older_than is None:
            count = Run.objects.interrupt_orphans()
        else:
            count = Run.objects.interrupt_stale(timezone.now() - timedelta(seconds=older_than))
        if count:
            self.stdout.write(f"{count} run(s) left running by a stopped server: now interrupted.")
