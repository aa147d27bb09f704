"""What was asked, what came back, how fast.

A Conversation is what a user sees as one page: a completions prompt or a chat
thread, with the parameters last used. Each press of Run (or each gateway call)
is a Run holding the exact request body sent upstream (never a key), the
assembled response, the metrics and a status. Chat conversations also keep
their messages, so a reload shows the thread as it was.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Conversation(models.Model):
    MODES = [("completions", "Completions"), ("chat", "Chat")]

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    mode = models.CharField(max_length=16, choices=MODES)
    title = models.CharField(max_length=200, blank=True)
    # The form as last submitted: model uuid and every set field (prompt included),
    # so reopening shows the parameters that produced the last run.
    form = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated"]
        indexes = [models.Index(fields=["owner", "-updated"])]

    def __str__(self):
        return self.title or f"{self.get_mode_display()} {self.uuid}"

    def set_messages(self, messages):
        """Replace the thread with `messages` (the request's, as sent)."""
        self.messages.all().delete()
        Message.objects.bulk_create(
            Message.from_dict(self, position, m) for position, m in enumerate(messages)
        )

    def append_message(self, message, run=None):
        position = self.messages.count()
        return Message.from_dict(self, position, message, run=run, save=True)

    def thread(self):
        return [m.as_dict() for m in self.messages.all()]


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=16)
    # A string, or a list of content blocks, or null (assistant with tool_calls).
    content = models.JSONField(null=True, blank=True)
    name = models.CharField(max_length=64, blank=True)
    tool_calls = models.JSONField(null=True, blank=True)
    tool_call_id = models.CharField(max_length=128, blank=True)
    # The run that produced this message, for assistant replies.
    run = models.ForeignKey("Run", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "position"], name="message_position")
        ]

    def __str__(self):
        return f"{self.role} message {self.position}"

    @classmethod
    def from_dict(cls, conversation, position, m, run=None, save=False):
        message = cls(
            conversation=conversation,
            position=position,
            role=m.get("role", ""),
            content=m.get("content"),
            name=m.get("name") or "",
            tool_calls=m.get("tool_calls") or None,
            tool_call_id=m.get("tool_call_id") or "",
            run=run,
        )
        if save:
            message.save()
        return message

    def as_dict(self):
        """The message as the chat endpoint takes it."""
        d = {"role": self.role, "content": self.content}
        if self.name:
            d["name"] = self.name
        if self.tool_calls:
            d["tool_calls"] = self.tool_calls
        if self.tool_call_id:
            d["tool_call_id"] = self.tool_call_id
        return d


class RunQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(owner=user)

    def interrupt(self):
        """Keep these runs, if still "running", as interrupted with what
        arrived (their last checkpoint): nothing drives them any more."""
        return self.filter(status=Run.RUNNING).update(
            status=Run.INTERRUPTED,
            error="the server stopped before the run ended",
            error_code="interrupted",
            finished=timezone.now(),
        )

    def interrupt_stale(self, started_before):
        """Runs still "running" that started before `started_before` were left
        by a server that stopped mid-run (a restart, a crash)."""
        return self.filter(created__lt=started_before).interrupt()

    def interrupt_orphans(self):
        """Runs whose process stopped renewing their lease (killed, crashed,
        restarted) are over. A live process renews its runs' leases well
        before they run out, so this never touches a run that is streaming."""
        return self.filter(lease_until__lt=timezone.now()).interrupt()


class Run(models.Model):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # the user pressed Stop
    INTERRUPTED = "interrupted"  # the browser or client went away mid-stream
    FAILED = "failed"  # the upstream or the network failed
    STATUSES = [
        (RUNNING, "Running"),
        (COMPLETED, "Completed"),
        (CANCELLED, "Cancelled"),
        (INTERRUPTED, "Interrupted"),
        (FAILED, "Failed"),
    ]
    SOURCES = [("playground", "Playground"), ("gateway", "Gateway"), ("compare", "Compare"),
               ("evals", "Evaluation")]

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs"
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    source = models.CharField(max_length=16, choices=SOURCES, default="playground")
    gateway_key_prefix = models.CharField(max_length=32, blank=True)
    endpoint = models.CharField(max_length=16, choices=Conversation.MODES)
    # The model as chosen (kept if the model row is later deleted).
    model = models.ForeignKey(
        "providers.Model", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    model_name = models.CharField(max_length=200)
    provider_name = models.CharField(max_length=200, blank=True)

    request = models.JSONField()  # the exact body sent upstream
    # A run of a template ({{variables}}): {"body": the body before rendering,
    # "variables": the values it was rendered with}; null for a plain run.
    template = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)  # assembled, documented shape
    # Plain text of every choice, for search and lists.
    prompt_text = models.TextField(blank=True)
    output_text = models.TextField(blank=True)
    notices = models.JSONField(default=list, blank=True)

    status = models.CharField(max_length=16, choices=STATUSES, default=RUNNING)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=32, blank=True)

    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    ttft_ms = models.FloatField(null=True, blank=True)  # time to first token
    duration_ms = models.FloatField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    # Dollars, from the model's prices when the run finished with usage;
    # null when the usage or a price is unknown.
    cost = models.DecimalField(max_digits=20, decimal_places=12, null=True, blank=True)

    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)
    # The run engine's bookkeeping (apps/runs): how many events the stored
    # response holds (a subscriber resumes after it), and until when the
    # process driving the run vouches for it (renewed while it lives; a run
    # whose lease ran out was left by a dead process).
    seq = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["owner", "-created"]),
            models.Index(fields=["owner", "status", "-created"]),
            models.Index(fields=["conversation", "created"]),
            # The orphan sweep every process runs (interrupt_orphans).
            models.Index(fields=["status", "lease_until"]),
        ]

    def __str__(self):
        return f"{self.endpoint} run {self.uuid} ({self.status})"

    def finish(self, status, result, error=None, seq=None):
        """Store the outcome. `result` is an apps.history.assemble.Assembly."""
        self.status = status
        self._take(result, seq)
        if error is not None:
            self.error = error.message
            self.error_code = error.code
        model = self.model
        self.cost = model.cost(self.prompt_tokens, self.completion_tokens) if model else None
        self.finished = timezone.now()
        self.lease_until = None
        self.save()

    def checkpoint(self, result, seq, lease_until):
        """Store what arrived so far (`result`, an Assembly) while the run goes
        on, and renew its lease. Only a running row is touched: a checkpoint
        never overwrites a finished run."""
        self._take(result, seq)
        fields = ["response", "output_text", "notices", "prompt_tokens", "completion_tokens",
                  "ttft_ms", "duration_ms", "tokens_per_s", "seq"]
        Run.objects.filter(pk=self.pk, status=Run.RUNNING).update(
            lease_until=lease_until, **{f: getattr(self, f) for f in fields}
        )

    def _take(self, result, seq):
        self.response = result.response()
        self.output_text = result.output_text()
        self.notices = list(result.notices)
        if result.usage is not None:
            self.prompt_tokens = result.usage.prompt_tokens
            self.completion_tokens = result.usage.completion_tokens
        self.ttft_ms = result.ttft_ms
        self.duration_ms = result.duration_ms
        self.tokens_per_s = result.tokens_per_s()
        if seq is not None:
            self.seq = seq

    @property
    def is_finished(self):
        return self.status != self.RUNNING
