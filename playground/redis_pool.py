"""One Redis connection pool per process for Django's cache.

Django keeps a cache instance per thread *and per async context*
(`django.core.cache.caches` is context-local), and each RedisCache instance
builds connection pools of its own. Under daphne every request is a task
with a context of its own, so every request that touched the cache (the
gateway's rate counters and cache generation, a key's last-used stamp)
opened a new Redis connection: a connect and a handshake per call, about a
third of a gateway call's CPU on PostgreSQL + Redis (py-spy, bench/README.md),
and a stream of connections for Redis to accept. Every instance now draws
from this process's one pool per URL (redis-py's pools are thread-safe and
start afresh in a forked child).
"""

import threading

from redis import ConnectionPool


class SharedConnectionPool(ConnectionPool):
    _pools = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url, **kwargs):
        key = (url, repr(sorted(kwargs.items())))
        with cls._lock:
            pool = cls._pools.get(key)
            if pool is None:
                pool = cls._pools[key] = super().from_url(url, **kwargs)
        return pool
