"""Run evaluation batches: django-tasks' database worker loop, in several
threads of one process (each claims one queued cell at a time; a cell mostly
waits on its upstream, so threads, not processes). Start as many of these
processes as you like; they share the queue.

    manage.py evals_worker [--threads 16]
"""

import logging
import signal
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import OperationalError, close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Worker

from apps.evals import tasks
from apps.runs import keeper

log = logging.getLogger(__name__)
SQLITE_MAX_THREADS = 8


class Command(BaseCommand):
    help = "Run queued evaluation cells (django-tasks database backend)."

    def add_arguments(self, parser):
        parser.add_argument("--threads", type=int, default=settings.EVALS_WORKER_THREADS)
        parser.add_argument("--interval", type=float, default=0.2,
                            help="seconds between polls of an idle queue")

    def handle(self, threads, interval, **options):
        if connection.vendor == "sqlite" and threads > SQLITE_MAX_THREADS:
            # One writer at a time: more threads only queue for it (and past
            # its busy timeout, fail); see bench/README.md.
            self.stdout.write(f"SQLite: {SQLITE_MAX_THREADS} threads, not {threads}")
            threads = SQLITE_MAX_THREADS
        # The library says every task it starts and ends at INFO: one line per cell.
        logging.getLogger("django_tasks_db").setLevel(logging.WARNING)
        logging.getLogger("django_tasks").setLevel(logging.WARNING)
        keeper.start()  # this process's runs' leases, like a server's
        tasks.runtime()  # the event loop and the batch keeper
        workers = [
            Worker(queue_names=["default"], interval=interval, batch=False,
                   backend_name="default", startup_delay=False, max_tasks=None,
                   worker_id=f"{tasks.WORKER_ID}-{i}", excluded_queue_names=[])
            for i in range(threads)
        ]

        def shutdown(signum, frame):
            if not any(w.running for w in workers):
                sys.exit(1)  # a second signal: now
            for w in workers:
                w.running = False  # each finishes its cell, then stops

        signal.signal(signal.SIGINT, shutdown)
        signal.signal(signal.SIGTERM, shutdown)
        self.stdout.write(f"evals worker {tasks.WORKER_ID}: {threads} threads")
        def work(worker):
            # The library's loop lets a busy database (SQLite's one writer
            # taking longer than its timeout) end the thread: start it again.
            while worker.running:
                try:
                    worker.run()
                except OperationalError as exc:
                    log.warning("evals worker: %s; going on", exc)
                    close_old_connections()
                    time.sleep(0.1)

        running = [threading.Thread(target=work, args=(w,), name=f"evals-worker-{i}", daemon=True)
                   for i, w in enumerate(workers)]
        for t in running:
            t.start()
        for t in running:
            while t.is_alive():
                t.join(0.5)
