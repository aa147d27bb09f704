"""Providers (where a backend is and how to reach it) and the models they serve.

The API key and extra headers are encrypted at rest (see fields.py); the only
place their plaintext leaves the database is `target()`, which hands the
adapter a plain `Target`.
"""

import re
import uuid
from decimal import Decimal
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q

from apps.catalog import ENDPOINTS, FIELDS, names_for
from apps.inference import Target, Timeouts, list_models
from apps.inference.client import ALWAYS_SENT, list_model_entries
from apps.inference.local import (
    LLAMA_CPP_IGNORED,
    LLAMA_CPP_OWNER,
    LOCAL_ACCEPTED_FIELDS,
    LOCAL_FIELD_NOTES,
    local_model_id,
)

from .crypto import SecretUnreadable
from .fields import EncryptedJSONField, EncryptedTextField, UnreadableSecret

# A current GA version; staff can change it per provider.
AZURE_DEFAULT_API_VERSION = "2024-10-21"

LOCAL_PROVIDER_NAME = "Embedded (SmolLM2-135M)"

# Keys shorter than this are shown as bullets only: four characters of a
# short key are too large a share of it.
MASK_TAIL_FROM_LENGTH = 16
MILLION = Decimal(1_000_000)

HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
HEADER_VALUE = re.compile(r"^[\x20-\x7e]*$")
API_KEY = re.compile(r"^[\x21-\x7e]+$")

# The catalogue's names per endpoint: the adapter treats any other body key
# as an extra, which the provider's unknown_fields policy governs.
CATALOGUE_NAMES = {endpoint: names_for(endpoint) for endpoint in ENDPOINTS}
# Never "not accepted": without them there is no request (the adapter's list).
ALWAYS_ACCEPTED = ALWAYS_SENT
# OpenAI's own API (and Azure's) refuse fields it does not know; these two of
# the catalogue are vLLM/llama.cpp knobs from the gateway documents.
OPENAI_HOSTS = {"api.openai.com"}
NOT_OPENAI_FIELDS = {
    "ignore_eos": "OpenAI has no ignore_eos (a vLLM and llama.cpp field)",
    "repetition_penalty": "OpenAI has no repetition_penalty: use frequency_penalty",
}


def validate_base_url(value):
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Enter an http:// or https:// URL.", code="scheme")
    # The URL is shown in the admin and may end up in logs; a secret in it
    # would not be protected like the API key is.
    if parts.username or parts.password:
        raise ValidationError(
            "Do not put credentials in the URL: use the API key or extra headers.",
            code="credentials",
        )
    if parts.query or parts.fragment:
        raise ValidationError(
            "A base URL has no query string or fragment (Azure's api-version has its own "
            "field; keys go in the API key or extra headers).",
            code="query",
        )


def validate_headers(value):
    if isinstance(value, UnreadableSecret):
        return
    # Codes other than "invalid": a ModelForm would swap an "invalid" message
    # for its form field's generic one.
    if not isinstance(value, dict):
        raise ValidationError('Enter a JSON object, e.g. {"X-Header": "value"}.', code="headers")
    for name, header_value in value.items():
        if not HEADER_NAME.match(name):
            raise ValidationError(f"{name!r} is not a valid header name.", code="headers")
        # Header values are secrets: name the header, never echo the value.
        if not isinstance(header_value, str) or not HEADER_VALUE.match(header_value):
            raise ValidationError(
                f"The value of header {name!r} must be a single line of printable ASCII.",
                code="headers",
            )


def validate_api_key(value):
    # It travels in an HTTP header, which carries ASCII only; a pasted key
    # with a stray non-ASCII character would fail every request. Never echo it.
    if isinstance(value, UnreadableSecret) or not value:
        return
    if not API_KEY.match(value):
        raise ValidationError(
            "An API key is printable ASCII with no spaces; check for a stray character.",
            code="api_key",
        )


def positive_seconds(field_name, default, help_text):
    return models.FloatField(
        field_name,
        default=default,
        validators=[MinValueValidator(0.1)],
        help_text=help_text,
    )


class Provider(models.Model):
    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible"
        AZURE = "azure", "Azure OpenAI"
        LOCAL = "local", "Embedded"

    class UnknownFields(models.TextChoices):
        # The same words as apps.inference.client's FORWARD, DROP, REFUSE.
        FORWARD = "forward", "Forward them"
        DROP = "drop", "Drop them with a notice"
        REFUSE = "refuse", "Refuse the request (400 naming the field)"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OPENAI)
    base_url = models.CharField(
        "base URL",
        max_length=500,
        blank=True,
        validators=[validate_base_url],
        help_text="e.g. https://api.openai.com/v1 or http://127.0.0.1:8080/v1. "
        "Azure: the resource endpoint, https://NAME.openai.azure.com. "
        "Embedded: leave blank.",
    )
    api_key = EncryptedTextField("API key", blank=True, validators=[validate_api_key])
    extra_headers = EncryptedJSONField(
        blank=True,
        default=dict,
        validators=[validate_headers],
        help_text="Sent with every request. Encrypted like the key: they may carry secrets.",
    )
    api_version = models.CharField(
        "API version", max_length=40, blank=True, help_text="Azure only."
    )
    connect_timeout = positive_seconds("connect timeout (s)", Timeouts.connect, "")
    first_byte_timeout = positive_seconds(
        "first byte timeout (s)",
        Timeouts.first_byte,
        "How long to wait for the first token: a slow model on a CPU may take minutes.",
    )
    between_chunks_timeout = positive_seconds(
        "between chunks timeout (s)", Timeouts.between_chunks, ""
    )
    total_timeout = positive_seconds("total timeout (s)", Timeouts.total, "")
    batch_concurrency = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(256)],
        help_text="How many requests of evaluation batches may be on their way to this "
        "provider at a time (all batch workers together).",
    )
    unknown_fields = models.CharField(
        "unknown fields",
        max_length=10,
        choices=UnknownFields.choices,
        blank=True,
        help_text="What to do with request fields outside the parameter catalogue (extra "
        "parameters: top_k, min_p, ...). Blank: the kind's default, forward for self-hosted "
        "OpenAI-compatible servers and the embedded model (vLLM and llama.cpp take or ignore "
        "them), refuse for OpenAI and Azure (which answer 400 to them anyway).",
    )
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.unknown_fields:
            self.unknown_fields = self.default_unknown_fields()
        super().save(*args, **kwargs)

    def clean(self):
        if self.base_url:
            self.base_url = self.base_url.rstrip("/")
        if self.kind == self.Kind.LOCAL:
            if self.base_url:
                raise ValidationError(
                    {
                        "base_url": "The embedded model's address is found when it starts: "
                        "leave this blank."
                    }
                )
        elif not self.base_url:
            raise ValidationError({"base_url": "This provider needs a base URL."})
        if self.kind == self.Kind.AZURE and not self.api_version:
            self.api_version = AZURE_DEFAULT_API_VERSION

    @property
    def is_openai_platform(self):
        """OpenAI's own API or Azure OpenAI, rather than a self-hosted server."""
        if self.kind == self.Kind.AZURE:
            return True
        return self.kind == self.Kind.OPENAI and urlsplit(self.base_url).hostname in OPENAI_HOSTS

    def default_unknown_fields(self):
        return self.UnknownFields.REFUSE if self.is_openai_platform else self.UnknownFields.FORWARD

    @property
    def extras_policy(self):
        """What happens to extra parameters: the staff's choice, else the kind's."""
        return self.unknown_fields or self.default_unknown_fields()

    # -- secrets ----------------------------------------------------------

    @property
    def secrets_unreadable(self):
        return isinstance(self.api_key, UnreadableSecret) or isinstance(
            self.extra_headers, UnreadableSecret
        )

    def masked_key(self):
        """The key as the admin shows it: never more than its last 4 characters."""
        if not self.api_key:
            return ""
        if isinstance(self.api_key, UnreadableSecret):
            return "unreadable: not encrypted under any of FERNET_KEYS"
        tail = self.api_key[-4:] if len(self.api_key) >= MASK_TAIL_FROM_LENGTH else ""
        return "••••" + tail

    def header_names(self):
        if isinstance(self.extra_headers, UnreadableSecret):
            return None
        return sorted(self.extra_headers)

    def timeouts(self):
        return Timeouts(
            connect=self.connect_timeout,
            first_byte=self.first_byte_timeout,
            between_chunks=self.between_chunks_timeout,
            total=self.total_timeout,
        )

    def target(self, model="", accepted_fields=None):
        """What the adapter needs to reach this provider (plaintext secrets)."""
        if self.secrets_unreadable:
            raise SecretUnreadable(
                f"The API key or headers of provider {self.name!r} cannot be decrypted with "
                "the configured FERNET_KEYS. Restore the old key or enter the secrets again."
            )
        return Target(
            kind=self.kind,
            base_url=self.base_url,
            model=model,
            api_key=self.api_key or None,
            headers=dict(self.extra_headers),
            api_version=self.api_version or None,
            timeouts=self.timeouts(),
            accepted_fields=accepted_fields,
            known_fields=CATALOGUE_NAMES,
            unknown_fields=self.extras_policy,
        )

    def default_accepted_fields(self):
        if self.kind == self.Kind.LOCAL:
            return sorted(LOCAL_ACCEPTED_FIELDS)
        return None

    def default_capabilities(self, owned_by=""):
        """(accepted_fields, field_notes) a discovered model starts with, by
        kind: the embedded model's from the adapter's own table; OpenAI and
        Azure without the catalogue's two vLLM/llama.cpp fields; a llama.cpp
        server (its /models says owned_by "llamacpp") without what llama.cpp
        ignores, with the adapter's reasons; any other self-hosted server
        (vLLM takes every field) everything."""
        every = {f.name for f in FIELDS}
        if self.kind == self.Kind.LOCAL:
            return self.default_accepted_fields(), {}
        if self.is_openai_platform:
            return sorted(every - set(NOT_OPENAI_FIELDS)), dict(NOT_OPENAI_FIELDS)
        if owned_by == LLAMA_CPP_OWNER:
            notes = {name: LOCAL_FIELD_NOTES[name] for name in sorted(LLAMA_CPP_IGNORED)}
            return sorted(every - LLAMA_CPP_IGNORED), notes
        return None, {}

    # -- talking to the backend (through apps.inference) ------------------

    def fetch_model_ids(self):
        """GET {base}/models. Raises UpstreamError or SecretUnreadable.

        Sync, for the admin; async code calls apps.inference.list_models itself.
        """
        target = self.target()  # an unreadable key fails here, before any request
        return async_to_sync(list_models)(target)

    def discover_models(self):
        """Add a Model row for every id the backend lists that we lack.

        New rows are disabled: a provider can list hundreds of models, and
        staff choose which ones users see. Returns (created, existing) lists.
        """
        target = self.target()  # an unreadable key fails here, before any request
        owners = {}
        for entry in async_to_sync(list_model_entries)(target):
            owners.setdefault(entry["id"], entry["owned_by"])
        known = set(self.models.values_list("upstream_id", flat=True))
        created, existing = [], []
        for upstream_id, owned_by in owners.items():  # unique, in the backend's order
            if upstream_id in known:
                existing.append(upstream_id)
                continue
            accepted, notes = self.default_capabilities(owned_by)
            created.append(
                Model.objects.create(
                    provider=self,
                    upstream_id=upstream_id,
                    display_name=Model.free_display_name(upstream_id, self),
                    enabled=False,
                    accepted_fields=accepted,
                    field_notes=notes,
                )
            )
        return created, existing


class ModelQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True, provider__enabled=True)

    def for_endpoint(self, endpoint):
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        return self.filter(**{f"serves_{endpoint}": True})

    def resolve(self, name):
        """The enabled model a gateway or form names, or None.

        Display names are unique, so they win; an upstream id is accepted too
        (the first by position if two providers serve the same id).
        """
        models_ = self.enabled().select_related("provider")
        return models_.filter(display_name=name).first() or models_.filter(upstream_id=name).first()

    def default(self):
        """The model a new form starts with: the default, else the first enabled."""
        models_ = self.enabled().select_related("provider")
        return models_.filter(is_default=True).first() or models_.first()


class Model(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="models")
    upstream_id = models.CharField(
        "upstream id",
        max_length=200,
        help_text="The id the backend knows. Azure: the deployment name.",
    )
    display_name = models.CharField(
        max_length=200,
        unique=True,
        blank=True,
        help_text="What users and gateway clients call it (unique). Blank: the upstream id.",
    )
    serves_completions = models.BooleanField("completions", default=True)
    serves_chat = models.BooleanField("chat", default=True)
    enabled = models.BooleanField(default=True)
    accepted_fields = models.JSONField(
        null=True,
        blank=True,
        default=None,
        help_text="Catalogue field names this backend accepts; others are dropped with a "
        "notice, and the playground shows them disabled. Empty (null): all fields.",
    )
    field_notes = models.JSONField(
        "why fields are not accepted",
        default=dict,
        blank=True,
        help_text='Why this model does not accept a field, shown on the disabled control: '
        '{"echo": "llama.cpp ignores echo"}. The embedded model\'s own reasons apply where '
        "this says nothing.",
    )
    is_default = models.BooleanField(
        "default", default=False, help_text="The model a new playground starts with."
    )
    position = models.PositiveIntegerField(default=0, help_text="Lower comes first in lists.")
    # Prices in dollars per million tokens; blank: unknown (no cost is shown).
    input_price_per_mtok = models.DecimalField(
        "input price ($/M tokens)", max_digits=12, decimal_places=6, null=True, blank=True,
        help_text="Dollars per million prompt tokens. Blank: unknown.",
    )
    output_price_per_mtok = models.DecimalField(
        "output price ($/M tokens)", max_digits=12, decimal_places=6, null=True, blank=True,
        help_text="Dollars per million completion tokens. Blank: unknown.",
    )

    objects = ModelQuerySet.as_manager()

    class Meta:
        ordering = ["position", "display_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "upstream_id"], name="providers_model_unique_upstream_id"
            ),
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="providers_model_one_default",
            ),
        ]

    def __str__(self):
        return self.display_name or self.upstream_id

    def save(self, *args, **kwargs):
        if not self.display_name:
            self.display_name = self.upstream_id
        if self._state.adding and self.accepted_fields is None:
            self.accepted_fields = self.provider.default_accepted_fields()
        with transaction.atomic():
            if self.is_default:
                Model.objects.filter(is_default=True).exclude(pk=self.pk).update(is_default=False)
            super().save(*args, **kwargs)

    def cost(self, prompt_tokens, completion_tokens):
        """What this many tokens cost in dollars (a Decimal), or None when a
        price or the usage is unknown."""
        prices = (self.input_price_per_mtok, self.output_price_per_mtok)
        if None in prices or prompt_tokens is None or completion_tokens is None:
            return None
        return (prompt_tokens * prices[0] + completion_tokens * prices[1]) / MILLION

    @staticmethod
    def free_display_name(upstream_id, provider):
        """upstream_id, or "upstream_id (provider)" if another provider took it."""
        if not Model.objects.filter(display_name=upstream_id).exists():
            return upstream_id
        return f"{upstream_id} ({provider.name})"

    def clean(self):
        # Filled here as well as in save() so the form's uniqueness check sees it.
        if not self.display_name:
            self.display_name = self.upstream_id
        fields = self.accepted_fields
        if fields is None:
            return
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise ValidationError(
                {"accepted_fields": 'A JSON list of field names, e.g. ["temperature"], or null.'}
            )
        unknown = sorted(set(fields) - {f.name for f in FIELDS})
        if unknown:
            raise ValidationError(
                {"accepted_fields": f"Not in the parameter catalogue: {', '.join(unknown)}."}
            )

    def clean_fields(self, exclude=None):
        super().clean_fields(exclude=exclude)
        notes = self.field_notes
        if not isinstance(notes, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in notes.items()
        ):
            raise ValidationError(
                {"field_notes": 'A JSON object of field name to reason, e.g. {"echo": '
                 '"llama.cpp ignores echo"}.'}
            )

    def capabilities(self):
        """What the playground needs to adapt its form to this model: each
        catalogue field it does not accept, with why, and the provider's
        policy for extra parameters."""
        accepted = self.accepted_fields
        if accepted is None and self.provider.kind == Provider.Kind.LOCAL:
            accepted = LOCAL_ACCEPTED_FIELDS
        refused = {}
        if accepted is not None:
            accepted = set(accepted) | ALWAYS_ACCEPTED
            for name in sorted({f.name for f in FIELDS} - accepted):
                refused[name] = self.field_reason(name)
        return {"refused": refused, "unknown_fields": self.provider.extras_policy}

    def field_reason(self, name):
        notes = self.field_notes if isinstance(self.field_notes, dict) else {}
        if notes.get(name):
            return notes[name]
        if self.provider.kind == Provider.Kind.LOCAL and name in LOCAL_FIELD_NOTES:
            return LOCAL_FIELD_NOTES[name]
        return f"{self} does not accept {name}"

    def validate_constraints(self, exclude=None):
        # save() moves the default flag from the old default, so "another
        # model is the default" is not a form error.
        super().validate_constraints(exclude={*(exclude or ()), "is_default"})

    def endpoints(self):
        return [e for e in ENDPOINTS if getattr(self, f"serves_{e}")]

    def target(self):
        """The adapter's Target for this model: the only way plaintext leaves the DB."""
        accepted = None if self.accepted_fields is None else frozenset(self.accepted_fields)
        return self.provider.target(model=self.upstream_id, accepted_fields=accepted)


def ensure_local_provider(using="default"):
    """Register the embedded model as a provider + default model, once.

    Idempotent and safe at any time: it only creates what is missing and
    never undoes a staff change (a renamed provider, a disabled model, another
    default). Returns the local Model, or None when the embedded model is off.
    """
    if not settings.PLAYGROUND_LOCAL_MODEL:
        return None
    with transaction.atomic(using=using):
        provider = Provider.objects.using(using).filter(kind=Provider.Kind.LOCAL).first()
        if provider is None:
            provider = Provider(kind=Provider.Kind.LOCAL, name=LOCAL_PROVIDER_NAME)
            provider.save(using=using)
        upstream_id = local_model_id()
        model = provider.models.using(using).filter(upstream_id=upstream_id).first()
        if model is None:
            model = Model(
                provider=provider,
                upstream_id=upstream_id,
                display_name=Model.free_display_name(upstream_id, provider),
                serves_completions=True,
                serves_chat=True,
                is_default=not Model.objects.using(using).filter(is_default=True).exists(),
            )
            model.save(using=using)
    return model
