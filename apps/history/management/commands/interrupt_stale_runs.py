"""Mark runs left "running" by a stopped server as interrupted.

`make run` calls it with --older-than 0 before the server starts (one
process: nothing can be running yet). With several server processes, run it
without arguments (from cron, or at deploy): it only touches runs older than
the longest total timeout of any provider, which no live run can be.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db.models import Max
from django.utils import timezone

from apps.history.models import Run
from apps.inference.target import Timeouts
from apps.providers.models import Provider


class Command(BaseCommand):
    help = 'Mark runs a stopped server left "running" as interrupted.'

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            help="seconds (default: the longest provider total timeout, plus a minute)",
        )

    def handle(self, *args, older_than=None, **options):
        if older_than is None:
            longest = Provider.objects.aggregate(m=Max("total_timeout"))["m"] or Timeouts.total
            older_than = max(longest, Timeouts.total) + 60
        count = Run.objects.interrupt_stale(timezone.now() - timedelta(seconds=older_than))
        if count:
            self.stdout.write(f"{count} run(s) left running by a stopped server: now interrupted.")
