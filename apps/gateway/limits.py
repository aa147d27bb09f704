"""Per-key limits on the gateway: requests per minute and tokens per day.

A key's owner sets its limits on the API keys page, at most the maxima staff
set in settings (GATEWAY_MAX_REQUESTS_PER_MINUTE, GATEWAY_MAX_TOKENS_PER_DAY;
0 = no maximum); a key without a limit of its own gets the maximum.

The counts live in Django's cache: Redis when REDIS_URL is set, so every
server process counts against the same numbers; otherwise this process's
memory (the embedded shape runs one process). One counter per key per UTC
minute and per UTC day, created with an expiry if missing and bumped (on
Redis, SET NX and INCRBY in one round trip: playground/redis_pool.py; in
memory, the cache's `add` and `incr`): atomic, so two processes never both
take the last request of a minute. Windows are fixed, not sliding: simple
to reason about and to show ("12 of 60 this minute"), at the price of a
burst of up to twice the limit across a minute's boundary.

Two entry points:
- `await admit(key)` (or `check(key)` in a thread) before a request is served
  (auth.authenticate): raises
  ApiError 429, with Retry-After, when the key is over either limit.
- `await record_tokens(key, total_tokens)` when a gateway run ends, with the
  upstream's usage.total_tokens (None or 0 records nothing). A key whose day
  is used up gets 429 on its next request; the run that crossed the line is
  not cut short.
"""

import math
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

from .errors import ApiError

MINUTE = 60
DAY = 24 * 60 * 60


def maxima():
    """The staff's maximum per limit field of GatewayKey; None: no maximum."""
    return {
        "requests_per_minute": settings.GATEWAY_MAX_REQUESTS_PER_MINUTE or None,
        "tokens_per_day": settings.GATEWAY_MAX_TOKENS_PER_DAY or None,
    }


def effective(key, field):
    """The limit in force for `key` (None: unlimited). The maximum also caps a
    value the owner set before staff lowered it."""
    own, maximum = getattr(key, field), maxima()[field]
    if own is not None and maximum is not None:
        return min(own, maximum)
    return own if own is not None else maximum


def _requests_counter(key, now):
    return f"gateway:requests:{key.uuid.hex}:{int(now // MINUTE)}"


def _tokens_counter(key, now):
    return f"gateway:tokens:{key.uuid.hex}:{int(now // DAY)}"


def _bump(counter, amount, window, also_get=()):
    """(the counter's new count, [the value of each key of `also_get`; None
    if missing])."""
    # The counter outlives its window (its name changes with the window), so
    # it cannot expire between its creation and its increment.
    bump = getattr(cache, "bump_counter", None)  # Redis: one round trip
    if bump is not None:
        return bump(counter, amount, 2 * window, also_get=also_get)
    values = [cache.get(name) for name in also_get]
    cache.add(counter, 0, timeout=2 * window)
    return cache.incr(counter, amount), values


def _until_next(window, now):
    return max(1, math.ceil(window - now % window))


def _admit(key, now):
    tokens_limit = effective(key, "tokens_per_day")
    # The day's tokens are read with the request's count: one round trip.
    tokens_counter = [_tokens_counter(key, now)] if tokens_limit is not None else []
    requests_counter = _requests_counter(key, now)
    count, tokens = _bump(requests_counter, 1, MINUTE, also_get=tokens_counter)
    if tokens_counter and (tokens[0] or 0) >= tokens_limit:
        cache.decr(requests_counter)  # refused before it was made: not counted
        wait = _until_next(DAY, now)
        raise ApiError(
            429,
            f"This key has used its {tokens_limit:,} tokens for today (UTC). Try again in "
            f"{wait // 3600} h {wait % 3600 // 60} min, or raise the key's limit on the "
            "API keys page.",
            code="insufficient_quota",
            headers={"Retry-After": str(wait)},
        )
    requests_limit = effective(key, "requests_per_minute")
    if requests_limit is not None and count > requests_limit:
        wait = _until_next(MINUTE, now)
        raise ApiError(
            429,
            f"Rate limit reached for this key: {requests_limit:,} requests per minute. "
            f"Try again in {wait} s.",
            code="rate_limit_exceeded",
            headers={"Retry-After": str(wait)},
        )


async def admit(key):
    """Count a request of `key`; ApiError 429 when it is over a limit."""
    # Not thread-sensitive: a cache call is complete in itself and must not
    # queue behind the database work of other requests.
    await sync_to_async(_admit, thread_sensitive=False)(key, time.time())


def check(key):
    """admit(), sync: for a thread that talks to the cache already, or for
    the event loop when the cache is this process's memory (no I/O)."""
    _admit(key, time.time())


async def record_tokens(key, total_tokens):
    """Add a finished run's tokens to its key's day."""
    if not total_tokens:
        return
    counter = _tokens_counter(key, time.time())
    if not cache_is_shared():
        # This process's memory: no I/O, so no thread hop (which cost more
        # than the count).
        _bump(counter, int(total_tokens), DAY)
        return
    await sync_to_async(_bump, thread_sensitive=False)(counter, int(total_tokens), DAY)


def cache_is_shared():
    """Redis (REDIS_URL), as opposed to this process's memory."""
    return bool(settings.REDIS_URL)


def usage(keys):
    """{key uuid: {"requests", "requests_limit", "tokens", "tokens_limit"}}:
    this minute's requests and today's tokens against their limits."""
    now = time.time()
    names = {}
    for key in keys:
        names[key.uuid] = (_requests_counter(key, now), _tokens_counter(key, now))
    counts = cache.get_many([name for pair in names.values() for name in pair])
    return {
        key.uuid: {
            "requests": counts.get(names[key.uuid][0], 0),
            "requests_limit": effective(key, "requests_per_minute"),
            "tokens": counts.get(names[key.uuid][1], 0),
            "tokens_limit": effective(key, "tokens_per_day"),
        }
        for key in keys
    }
