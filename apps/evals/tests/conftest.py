import os
import subprocess
import sys
import time

import pytest

from apps.studio.tests.conftest import connect, receive_until  # noqa: F401 (fixtures)


class Worker:
    """`manage.py evals_worker` in a process of its own, on the test database."""

    def __init__(self, log_path, threads=8):
        from django.db import connection

        from conftest import ROOT, _database_url

        env = {**os.environ, "DATABASE_URL": _database_url(connection.settings_dict),
               "LOG_LEVEL": "WARNING", "EVALS_LEASE_SECONDS": "2",
               "PLAYGROUND_RUN_LEASE_SECONDS": "2"}
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "evals_worker", "--threads", str(threads)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )

    def log(self):
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill(self):
        self.process.kill()
        self.process.wait(10)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def workers(transactional_db, tmp_path):
    """Start batch workers: workers(threads=8) -> Worker (stopped at the end)."""
    started = []

    def start(threads=8):
        worker = Worker(tmp_path / f"worker-{len(started)}.log", threads)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(condition, timeout=120, what="the batch"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            from apps.evals.models import Cell

            states = list(Cell.objects.values_list("row", "status", "error", "run__status"))
            pytest.fail(f"{what} did not get there in {timeout} s: {states}")
        time.sleep(0.1)
