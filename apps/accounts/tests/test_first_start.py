"""A fresh install generates its secrets (Django's SECRET_KEY, the key that
encrypts provider API keys) on first start. `make run` starts the server and
the evaluation worker at once, so several processes may be first together:
they must all come up, with the same secrets."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Each process imports what the settings import, sleeps until the same
# instant, then loads the settings: the processes reach the secrets together.
LOAD_SETTINGS = """
import os, time
import dj_database_url, cryptography.fernet, django.conf
time.sleep(max(0.0, float(os.environ["START_AT"]) - time.time()))
from django.conf import settings
print(settings.SECRET_KEY, settings.FERNET_KEYS[0])
"""


def test_processes_starting_together_on_a_fresh_install_share_one_set_of_secrets(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings",
           "PLAYGROUND_DATA_DIR": str(tmp_path), "START_AT": str(time.time() + 3)}
    for name in ("SECRET_KEY", "FERNET_KEYS"):
        env.pop(name, None)
    processes = [
        subprocess.Popen([sys.executable, "-c", LOAD_SETTINGS], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    results = [process.communicate(timeout=60) for process in processes]

    failures = [err for process, (_, err) in zip(processes, results, strict=True)
                if process.returncode]
    assert not failures, failures[0]
    secrets = {out.strip() for out, _ in results}
    assert len(secrets) == 1
    secret_key, fernet_key = secrets.pop().split()
    assert len(secret_key) >= 50 and len(fernet_key) == 44
    # Only the two secrets are left behind, readable by their owner alone.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fernet_key", "secret_key"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in tmp_path.iterdir())
