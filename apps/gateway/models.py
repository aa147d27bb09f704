"""Gateway keys: what a script sends as `Authorization: Bearer <key>` to /v1.

The secret is shown once, when it is created, and only its SHA-256 is stored.
A slow, salted password hash (PBKDF2, argon2) exists to make guessing a
*human-chosen* password expensive; a key here is 32 random bytes from
`secrets`, so there is nothing to guess, and a plain digest lets each request
find its key with one indexed lookup instead of a 100 ms hash per call. (The
same reasoning as GitHub's and Stripe's API tokens.)

Users see a key by its prefix ("pg-" and a few characters of the random part),
which is enough to tell keys apart and to find a key's runs in history, but
far too short to use.
"""

import hashlib
import secrets
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from . import limits

SECRET_PREFIX = "pg-"
# "pg-" + 7 random characters: ~42 bits shown, ~214 bits never shown again.
PREFIX_LENGTH = 10
# last_used is updated at most this often.
TOUCH_SECONDS = 60
# When this process last asked the shared cache about each key
# (time.monotonic()): its `add` decides across processes, and this spares
# it a round trip per call, asking at most every TOUCH_ASK_SECONDS. Not a
# whole minute: another process's mark may be about to expire, and
# last_used would then lag by up to a minute more. One entry per key this
# process served.
TOUCH_ASK_SECONDS = 10
_touched = {}


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class GatewayKeyQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(owner=user)

    def usable(self):
        today = timezone.now().date()
        return self.filter(revoked__isnull=True, owner__is_active=True).filter(
            Q(expires__isnull=True) | Q(expires__gte=today)
        )

    def authenticate(self, secret: str):
        """The usable key with this secret, or None (unknown, revoked, expired,
        or its owner deactivated: a deactivated user's scripts stop with them)."""
        if not secret.startswith(SECRET_PREFIX):
            return None
        return self.usable().select_related("owner").filter(digest=digest(secret)).first()


class GatewayKey(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gateway_keys"
    )
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. “CI evals”.")
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False)
    # sha256 of the whole secret, hex. Never the secret.
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.DateTimeField(null=True, blank=True, editable=False)
    # Limits the owner sets, at most the staff's maxima (settings
    # GATEWAY_MAX_*); blank: the maximum. Enforced in limits.py.
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Blank: the site's maximum.",
    )
    tokens_per_day = models.PositiveIntegerField(
        "tokens per day (UTC)", null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Prompt and completion tokens. Blank: the site's maximum.",
    )
    expires = models.DateField(
        null=True, blank=True, help_text="The key works through this day (UTC). Blank: never."
    )

    objects = GatewayKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        verbose_name = "gateway key"

    def __str__(self):
        return f"{self.prefix}… ({self.name})"

    @classmethod
    def create(cls, owner, name, **fields):
        """A new key and its secret. The secret exists only in the return
        value: show it to the user once, store it nowhere."""
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            owner=owner, name=name, prefix=secret[:PREFIX_LENGTH], digest=digest(secret), **fields
        )
        return key, secret

    def clean(self):
        errors = {}
        for field, maximum in limits.maxima().items():
            value = getattr(self, field)
            if value is not None and maximum is not None and value > maximum:
                errors[field] = f"At most {maximum:,} (the site's maximum)."
        if errors:
            raise ValidationError(errors)

    @property
    def is_expired(self):
        return self.expires is not None and self.expires < timezone.now().date()

    @property
    def is_revoked(self):
        return self.revoked is not None

    def revoke(self):
        """Stop accepting the key. Kept, not deleted: its runs still name it."""
        if self.revoked is None:
            self.revoked = timezone.now()
            self.save(update_fields=["revoked"])

    def touch(self):
        """Note that the key was used: at most once a minute (a write per
        call would cost more than the call's own record)."""
        now = time.monotonic()
        if now - _touched.get(self.uuid, float("-inf")) < TOUCH_ASK_SECONDS:
            return
        _touched[self.uuid] = now
        if not cache.add(f"gateway:touched:{self.uuid.hex}", 1, timeout=TOUCH_SECONDS):
            return
        # update(), not save(): a call must not overwrite a concurrent revoke.
        self.last_used = timezone.now()
        GatewayKey.objects.filter(pk=self.pk).update(last_used=self.last_used)
