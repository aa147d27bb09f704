"""Who is calling: the gateway key in `Authorization: Bearer <key>`.

Only the header counts. A browser's session cookie never authenticates /v1:
the API is for scripts, and a cookie-authenticated, CSRF-exempt endpoint
would let any web page spend a signed-in user's quota.
"""

from apps.runs.engine import db

from . import limits
from .errors import ApiError
from .models import GatewayKey

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
    key = await db(GatewayKey.objects.authenticate, secret)
    if key is None:
        # Never quote the key back, not even masked: it may be someone's real
        # key pasted into the wrong place.
        raise ApiError(
            401,
            "Incorrect API key provided, or the key was revoked or has expired.",
            code="invalid_api_key",
            headers=CHALLENGE,
        )
    # Every call counts, /v1/models too: a limit is on the key, not the model.
    await limits.admit(key)
    return key
