"""What a run needs before its upstream request, kept in each process's memory:
the model a name resolves to (with its provider, secrets already decrypted)
and, for the gateway, the key a secret names. A database round trip each
cost more than the rest of a call's own work.

Two rules keep an entry honest:

- It lives at most TTL (1 s): whatever changed a key or a model, even a
  queryset `update()` that sends no signal (the admin's bulk actions), every
  process sees it within a second. An entry in use is reloaded in the
  background once it is REFRESH old, so a busy process never waits for it.
- A *generation* drops entries at once: a save or delete of a gateway key,
  a model, a provider or a user (a revoked key, a disabled model, a
  deactivated owner, new limits) bumps it when its transaction commits, and
  an entry loaded under another generation is not used. Other processes
  learn of a bump through a counter in Redis (REDIS_URL; the gateway reads
  it in the same thread hop as its rate-limit counters) or, without Redis,
  through a small file beside the SQLite database (or in DATA_DIR), replaced
  at each bump: one `stat` per call, no database.
"""

import asyncio
import itertools
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache as shared_cache
from django.db import transaction

VERSION_KEY = "playground:cache-generation"
TTL = 1.0
REFRESH = 0.5
MAX_ENTRIES = 4096

_local = itertools.count(1)
_local_generation = 0


def uses_redis():
    return bool(settings.REDIS_URL)


def _version_file():
    # A str, not a Path: this is stat-ed on every gateway call.
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and str(database["NAME"]) != ":memory:":
        return f"{database['NAME']}-cache-generation"
    return os.path.join(settings.DATA_DIR, "cache-generation")


def shared_version():
    """Where the other processes' bumps show: the Redis counter (a round
    trip: call it in a thread, with other Redis work) or the file's stamp."""
    if uses_redis():
        return shared_cache.get(VERSION_KEY, 0)
    return file_version()


def file_version():
    try:
        stat = os.stat(_version_file())
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns)


def generation(shared=None):
    """This process's view of the generation. `shared`: a shared version the
    caller just read (the gateway reads Redis with its limits); without it,
    the file's stamp (no Redis) or the last Redis value seen."""
    if shared is None:
        shared = _last_shared if uses_redis() else file_version()
    return (_local_generation, shared)


_last_shared = None


def saw_shared(version):
    global _last_shared
    _last_shared = version


def bump():
    """Invalidate every process's entries (after the current transaction)."""
    transaction.on_commit(_bump_now)


def _bump_now():
    global _local_generation
    _local_generation = next(_local)
    if uses_redis():
        shared_cache.add(VERSION_KEY, 0, timeout=None)
        shared_cache.incr(VERSION_KEY)
        return
    path = Path(_version_file())
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new file each time: a new inode, so two bumps within the
    # filesystem's mtime resolution still differ.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cache-generation-")
    os.close(fd)
    os.replace(tmp, path)


@dataclass
class Entry:
    value: object
    generation: tuple
    at: float


class Cache:
    """Values by name, each good for one generation and TTL. `load(name)`
    (sync, a database read) gives the value or None (never kept)."""

    def __init__(self, load):
        self.load = load
        self.entries = {}
        self.refreshing = set()

    def get(self, name, current):
        """The value if cached under `current` (no I/O), else None."""
        entry = self.entries.get(name)
        if entry is None or entry.generation != current:
            return None
        age = time.monotonic() - entry.at
        if age >= TTL:
            return None
        if age >= REFRESH:
            self._refresh(name)
        return entry.value

    def fetch(self, name, current):
        """Load `name` (sync: call it in a thread). `current`: the generation
        read *before* the database is."""
        at = time.monotonic()
        value = self.load(name)
        if value is None:
            self.entries.pop(name, None)
        else:
            if len(self.entries) >= MAX_ENTRIES:
                self.entries.clear()
            self.entries[name] = Entry(value, current, at)
        return value

    def _refresh(self, name):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # in a thread: a later call loads it if it expires
        if name in self.refreshing:
            return
        self.refreshing.add(name)

        def reload():
            shared = shared_version()
            # The newest shared version seen, so the entry loaded under it
            # matches what later calls in this process compare it with.
            if uses_redis():
                saw_shared(shared)
            return self.fetch(name, generation(shared))

        from .engine import db  # the engine's threads (engine does not import this)

        task = loop.create_task(db(reload))
        task.add_done_callback(lambda _: self.refreshing.discard(name))


# -- the models a name resolves to (the gateway) ---------------------------


def _resolve(name):
    from apps.providers.models import Model

    return Model.objects.resolve(name)


MODELS = Cache(_resolve)


def _by_uuid(model_uuid):
    from apps.providers.models import Model

    return Model.objects.enabled().select_related("provider").filter(uuid=model_uuid).first()


PAGE_MODELS = Cache(_by_uuid)


def page_model(model_uuid, endpoint):
    """The enabled model a playground page names by uuid, if it serves
    `endpoint` (sync: a database read when not cached)."""
    if model_uuid is None:
        return None
    # Called in a thread already: reading the shared version here costs one
    # Redis GET, and a model disabled in another process is refused at once
    # (as the gateway does), not up to TTL later.
    shared = shared_version()
    if uses_redis():
        saw_shared(shared)
    current = generation(shared)
    model = PAGE_MODELS.get(model_uuid, current) or PAGE_MODELS.fetch(model_uuid, current)
    return model if model is not None and getattr(model, f"serves_{endpoint}") else None


def connect_signals():
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_migrate, post_save

    from apps.providers.models import Model, Provider

    def changed(sender, **kwargs):
        bump()

    # weak=False: `changed` is a local function, nothing else holds it.
    for model in (Model, Provider, get_user_model()):
        name = model.__name__
        post_save.connect(changed, sender=model, dispatch_uid=f"runs.cache.save.{name}",
                          weak=False)
        post_delete.connect(changed, sender=model, dispatch_uid=f"runs.cache.delete.{name}",
                            weak=False)
    # A flushed database (tests) starts again from nothing.
    post_migrate.connect(changed, dispatch_uid="runs.cache.migrate", weak=False)
