"""`dumpdata` holds provider secrets encrypted, and `loaddata` restores them.

A backup must not be a plaintext copy of every upstream key, and a backup
that cannot be restored is no backup."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from apps.providers.fields import UnreadableSecret
from apps.providers.models import Model, Provider

ROOT = Path(__file__).resolve().parents[3]
KEY = "sk-live-7f3a9c1e5b2d4f6a8c0e"
HEADER_SECRET = "Bearer org-secret-value"


@pytest.fixture
def provider(db):
    provider = Provider.objects.create(
        name="Acme",
        base_url="https://llm.example/v1",
        api_key=KEY,
        extra_headers={"X-Org-Auth": HEADER_SECRET},
    )
    Model.objects.create(provider=provider, upstream_id="acme-1")
    return provider


def dump(path):
    call_command("dumpdata", "providers", output=str(path), indent=1, verbosity=0)
    return path.read_text()


def manage(tmp_path, *args):
    """manage.py in a fresh SQLite database with this process's FERNET_KEYS."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'restored.sqlite3'}",
        "PLAYGROUND_DATA_DIR": str(tmp_path),
        "FERNET_KEYS": ",".join(settings.FERNET_KEYS),
        "PLAYGROUND_LOCAL_MODEL": "0",
    }
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_it_dumps_no_plaintext_key_or_header_value(provider, tmp_path):
    text = dump(tmp_path / "backup.json")

    assert KEY not in text and KEY[-8:] not in text
    assert HEADER_SECRET not in text and "X-Org-Auth" not in text
    (acme,) = [row for row in json.loads(text) if row["fields"].get("name") == "Acme"]
    assert acme["fields"]["api_key"].startswith("fernet:gAAAA")
    assert acme["fields"]["extra_headers"].startswith("fernet:gAAAA")


def test_it_restores_a_dump_into_a_fresh_database(provider, tmp_path):
    backup = tmp_path / "backup.json"
    dump(backup)

    manage(tmp_path, "migrate", "--verbosity", "0")
    manage(tmp_path, "loaddata", str(backup), "--verbosity", "0")
    restored = manage(tmp_path, "shell", "--verbosity", "0", "-c", (
        "from apps.providers.models import Provider; import json; "
        "p = Provider.objects.get(name='Acme'); "
        "print(json.dumps([p.api_key, p.extra_headers, [m.upstream_id for m in p.models.all()]]))"
    ))

    assert json.loads(restored) == [KEY, {"X-Org-Auth": HEADER_SECRET}, ["acme-1"]]


def test_it_keeps_a_secret_it_cannot_decrypt_through_dump_and_load(provider, tmp_path):
    backup = tmp_path / "backup.json"
    dump(backup)
    Provider.objects.all().delete()

    # Restored before the right key is configured: kept, not lost or mangled.
    with override_settings(FERNET_KEYS=[Fernet.generate_key().decode()]):
        call_command("loaddata", str(backup), verbosity=0)
        assert isinstance(Provider.objects.get(name="Acme").api_key, UnreadableSecret)

    restored = Provider.objects.get(name="Acme")
    assert restored.api_key == KEY
    assert restored.extra_headers == {"X-Org-Auth": HEADER_SECRET}
