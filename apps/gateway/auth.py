"""Who is calling: the gateway key in `Authorization: Bearer <key>`.

Only the header counts. A browser's session cookie never authenticates /v1:
the API is for scripts, and a cookie-authenticated, CSRF-exempt endpoint
would let any web page spend a signed-in user's quota.
"""

from apps.runs import cache
from apps.runs.engine import db

from . import limits
from .errors import ApiError
from .models import SECRET_PREFIX, GatewayKey, digest


def _usable(name):
    return GatewayKey.objects.usable().select_related("owner").filter(digest=name).first()


# Usable keys by the digest of their secret, in this process (cache.py says
# when an entry goes stale). An unknown secret is never kept.
KEYS = cache.Cache(_usable)
MISS = object()

# RFC 6750: tell the client which scheme to use.
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="playground"'}


def bearer(request) -> str:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


async def authenticate(request) -> GatewayKey:
    secret = bearer(request)
    if not secret:
        raise ApiError(
            401,
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'; "
            "create one on the API keys page.",
            code="missing_api_key",
            headers=CHALLENGE,
        )
    if cache.uses_redis():
        # One thread hop, as before: Redis's generation counter, then the
        # rate counters; the database only when the key is not cached.
        key, generation = await db(_authorize, secret, True)
    else:
        # The generation is a file's stamp and the counters live in this
        # process's memory: a cached key is served with no thread hop.
        key, generation = _authorize(secret, False)
        if key is MISS:
            key, generation = await db(_authorize, secret, True)
    if key is None:
        # Never quote the key back, not even masked: it may be someone's real
        # key pasted into the wrong place.
        raise ApiError(
            401,
            "Incorrect API key provided, or the key was revoked or has expired.",
            code="invalid_api_key",
            headers=CHALLENGE,
        )
    # What the view resolves its model under (the same generation).
    request.cache_generation = generation
    return key


def _authorize(secret, load):
    """(the usable key of `secret` or None, the generation it was judged
    under), the request counted against the key's limits (ApiError 429).
    `load`: False for a call on the event loop (no database: MISS instead)."""
    shared = cache.shared_version()  # before the database, never after
    cache.saw_shared(shared)
    generation = cache.generation(shared)
    name = digest(secret)
    key = KEYS.get(name, generation)
    if key is None:
        if not load:
            return MISS, generation
        if not secret.startswith(SECRET_PREFIX):
            return None, generation
        key = KEYS.fetch(name, generation)
        if key is None:
            return None, generation
    elif key.is_expired:  # a cached key may outlive its last day
        return None, generation
    # Every call counts, /v1/models too: a limit is on the key, not the model.
    limits.check(key)
    return key, generation
