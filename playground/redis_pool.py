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

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
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


class _ClientPerPool(RedisCacheClient):
    """Django's client makes a new redis.Redis for every cache call; redis-py
    8's constructor copies its table of response callbacks into a new
    case-insensitive dict each time: ~14 % of a gateway call's Python time on
    PostgreSQL + Redis (py-spy, bench/README.md "Session 8"). A redis.Redis
    over a pool is thread-safe (each command takes a connection from the
    pool), so one per pool serves every call."""

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        # Kept on the pool: a pool not shared (another pool_class in OPTIONS)
        # goes with its cache instance, client and all.
        client = getattr(pool, "_cache_client", None)
        if client is None:
            client = pool._cache_client = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    """Django's RedisCache on this process's shared pool and one client per
    pool (above)."""

    def __init__(self, server, params):
        params = {**params, "OPTIONS": {"pool_class": SharedConnectionPool,
                                        **params.get("OPTIONS", {})}}
        super().__init__(server, params)
        self._class = _ClientPerPool

    def bump_counter(self, key, delta, timeout, *, also_get=()):
        """Add `delta` to the counter at `key` (created at 0, expiring after
        `timeout` seconds, if missing) and read the keys of `also_get`, in
        one round trip: Django's add, incr and get take four (SET NX, EXISTS,
        INCRBY, GET), each a Python-heavy redis-py call on the gateway's
        path. (the new count, [each value read; None if missing])."""
        # Seconds as Django's cache counts them: None never expires; a
        # counter that expires at once would count nothing.
        timeout = self.get_backend_timeout(timeout)
        if timeout is not None and timeout < 1:
            raise ValueError(f"a counter needs a timeout of 1 s or more, not {timeout}")
        name = self.make_and_validate_key(key)
        serializer = self._cache._serializer
        pipe = self._cache.get_client(name, write=True).pipeline(transaction=False)
        for other in also_get:
            pipe.get(self.make_and_validate_key(other))
        # The serializer keeps an int a plain integer, as INCRBY needs.
        pipe.set(name, serializer.dumps(0), ex=timeout, nx=True)
        pipe.incrby(name, delta)
        *values, _, count = pipe.execute()
        return count, [None if value is None else serializer.loads(value) for value in values]
