"""Leases: how a run left by a dead process is found and kept as interrupted.

Every Run the engine drives carries `lease_until`, a moment until which its
process vouches for it. The keeper, a thread in every server process, renews
the leases of this process's live runs and marks every running Run whose
lease ran out as interrupted (with the output of its last checkpoint). A
killed process renews nothing, so within RUN_LEASE_SECONDS (plus one sweep)
its runs are interrupted by whichever process sweeps next, or at once by the
next process that starts. No guess by age: a slow run of a live process keeps
its lease however long it takes.
"""

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from apps.history.models import Run

log = logging.getLogger(__name__)


def renew_and_sweep():
    """One round: renew this process's leases, interrupt orphans. Returns how
    many runs were interrupted."""
    from .engine import LIVE

    live = tuple(LIVE)
    if live:
        lease = timezone.now() + timedelta(seconds=settings.RUN_LEASE_SECONDS)
        Run.objects.filter(uuid__in=live, status=Run.RUNNING).update(lease_until=lease)
    return Run.objects.interrupt_orphans()


def start():
    """Start this process's keeper (a server calls it once, at start-up)."""

    def keep():
        while True:
            try:
                if count := renew_and_sweep():
                    log.warning("%d run(s) left by a stopped server process: interrupted", count)
            except DatabaseError as exc:  # not migrated yet, or the database is away
                log.warning("run keeper: %s", exc)
            finally:
                close_old_connections()
            time.sleep(settings.RUN_LEASE_SECONDS / 3)

    threading.Thread(target=keep, name="run-keeper", daemon=True).start()
