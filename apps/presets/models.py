"""Presets: a saved playground form (mode, model, every set field) under a name.

Each save is a new PresetVersion; older versions stay readable. A preset is
private to its owner unless shared: then anyone signed in who has the link
(a random token, separate from the uuid) can read it and fork it. A new
token invalidates the old link.
"""

import secrets
import uuid

from django.conf import settings
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from apps.catalog import ValidationFailed, validate
from apps.catalog.validation import FieldError

MODES = [("completions", "Completions"), ("chat", "Chat")]
EXPORT_FORMAT = "playground-presets"
EXPORT_VERSION = 1


def new_token():
    return secrets.token_urlsafe(24)


def clean_body(mode, model, body):
    """The catalogue's clean body for `model`, without the model itself (a
    preset names its model separately). Raises ValidationFailed."""
    if mode not in dict(MODES):
        raise ValidationFailed([FieldError("mode", "mode must be completions or chat")])
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("body", "body must be an object")])
    clean = validate(mode, {**body, "model": model.upstream_id})
    clean.pop("model")
    return clean


MAX_TOOL_NAME = 64  # OpenAI's limit on a function name


def clean_tool_mocks(mocks):
    """Saved tool results, {tool name: {"result": any JSON, "auto": bool}}: what
    the playground's tool-call loop answers a call with (automatically when
    "auto"). Kept beside the body, never sent upstream. Raises ValidationFailed."""
    if mocks is None:
        return {}
    if not isinstance(mocks, dict):
        raise ValidationFailed([FieldError("tool_mocks", "tool_mocks must be an object")])
    errors = []
    for name, mock in mocks.items():
        where = f"tool_mocks.{name}"
        if not name or len(name) > MAX_TOOL_NAME:
            errors.append(FieldError("tool_mocks", f"a tool name must be 1 to {MAX_TOOL_NAME} "
                                                   "characters"))
        elif not isinstance(mock, dict) or "result" not in mock:
            errors.append(FieldError(where, f"{where} must be an object with a result"))
        elif not isinstance(mock.get("auto", False), bool):
            errors.append(FieldError(where, f"{where}.auto must be true or false"))
    if errors:
        raise ValidationFailed(errors)
    return {name: {"result": m["result"], "auto": m.get("auto", False)}
            for name, m in mocks.items()}


class PresetQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(owner=user)

    def shared(self, token):
        """The preset this link opens, or none (links are only ever read by token)."""
        if not token:
            return self.none()
        return self.filter(share_token=token)


class Preset(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presets"
    )
    # Name, description and mode mirror the latest version, for lists.
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    mode = models.CharField(max_length=16, choices=MODES)
    # Null while private; unique so a link opens exactly one preset.
    share_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    forked_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="forks"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    objects = PresetQuerySet.as_manager()

    class Meta:
        ordering = ["-updated"]
        indexes = [models.Index(fields=["owner", "-updated"])]

    def __str__(self):
        return self.name

    # -- versions -------------------------------------------------------------

    @classmethod
    def create(cls, owner, name, description, mode, model, body, forked_from=None,
               model_name=None, tool_mocks=None):
        """A new preset with its first version. `body` must be clean (see
        clean_body), and `tool_mocks` too (see clean_tool_mocks)."""
        with transaction.atomic():
            preset = cls.objects.create(
                owner=owner, name=name, description=description, mode=mode,
                forked_from=forked_from,
            )
            preset.add_version(name, description, mode, model, body, model_name=model_name,
                               tool_mocks=tool_mocks)
        return preset

    def add_version(self, name, description, mode, model, body, model_name=None,
                    tool_mocks=None):
        with transaction.atomic():
            # Locks the preset row, so two saves cannot take the same number.
            Preset.objects.select_for_update().filter(pk=self.pk).first()
            number = (self.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            version = PresetVersion.objects.create(
                preset=self, number=number, name=name, description=description, mode=mode,
                model=model, model_name=model_name or (model.display_name if model else ""),
                body=body, tool_mocks=tool_mocks or {},
            )
            self.name, self.description, self.mode = name, description, mode
            self.updated = timezone.now()
            self.save(update_fields=["name", "description", "mode", "updated"])
        return version

    @property
    def latest(self):
        return self.versions.order_by("-number").select_related("model__provider").first()

    def version(self, number):
        return self.versions.select_related("model__provider").filter(number=number).first()

    # -- sharing ----------------------------------------------------------------

    @property
    def is_shared(self):
        return bool(self.share_token)

    def share(self):
        """Share by link; a preset already shared gets a new link (the old one dies)."""
        self.share_token = new_token()
        self.save(update_fields=["share_token"])

    def unshare(self):
        self.share_token = None
        self.save(update_fields=["share_token"])

    def fork(self, user):
        """A private copy of the latest version, owned by `user`."""
        v = self.latest
        name = self.name if user != self.owner else f"{self.name} (copy)"
        # model_name too: if the model was deleted since, the fork still says what it was.
        return Preset.create(
            user, name, v.description, v.mode, v.model, v.body, forked_from=self,
            model_name=v.model_name, tool_mocks=v.tool_mocks,
        )

    def as_export(self):
        return self.latest.as_export()


class PresetVersion(models.Model):
    preset = models.ForeignKey(Preset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    mode = models.CharField(max_length=16, choices=MODES)
    model = models.ForeignKey(
        "providers.Model", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The model's display name when saved: exports name models this way, and
    # it survives the model's deletion.
    model_name = models.CharField(max_length=200, blank=True)
    # The clean body (every set field, prompt or messages included), without model.
    body = models.JSONField(default=dict)
    # Saved tool results for the tool-call loop (see clean_tool_mocks): beside
    # the body, because the body is exactly what is sent upstream.
    tool_mocks = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["preset", "number"], name="preset_version_number")
        ]

    def __str__(self):
        return f"{self.name} v{self.number}"

    def form(self):
        """The playground form, as Conversation.form stores it."""
        return {"model": str(self.model.uuid) if self.model else "", "body": self.body}

    def request_body(self):
        """The body as it would be sent (model included)."""
        return {"model": self.model.upstream_id if self.model else self.model_name, **self.body}

    def as_export(self):
        entry = {
            "name": self.name,
            "description": self.description,
            "mode": self.mode,
            "model": self.model.display_name if self.model else self.model_name,
            "body": self.body,
        }
        if self.tool_mocks:
            entry["tool_mocks"] = self.tool_mocks
        return entry
