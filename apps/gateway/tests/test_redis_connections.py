"""With Redis, a process keeps its connections to it: Django's cache
instances (one per thread and per async context: under daphne, one per
request) share one pool per process instead of connecting per request."""

import asyncio
import contextvars

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the production shape's Redis")


def connections_accepted():
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return client.info("stats")["total_connections_received"]
    finally:
        client.close()


async def test_requests_reuse_the_processes_redis_connections():
    def counters():  # what a gateway call does with the cache
        cache.add("test:counter", 0, timeout=60)
        cache.incr("test:counter")
        cache.get("test:generation")

    async def request():
        await sync_to_async(counters, thread_sensitive=False)()

    before = connections_accepted()
    for _ in range(30):
        # Each in a task of its own, in a context where the cache was never
        # touched, as daphne runs each request.
        await asyncio.create_task(request(), context=contextvars.Context())
    # The 30 requests opened one connection (one more is this test's own
    # second count; a little room for another process touching Redis).
    assert connections_accepted() - before <= 5
