"""Action runs: the record of every remediation someone asked for, who approved it, what the
worker did and what it produced. The row, not the broker, is the source of truth."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import AppendOnlyModel
from apps.core.transitions import Transitions
from apps.health.models import Host
from apps.incidents.models import ChecklistItem, Incident


class ActionRun(models.Model):
    class State(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        REJECTED = "rejected", "Rejected"
        LOST = "lost", "Lost"

    # A run is requested as awaiting approval or queued. The requester or an approver may call
    # it off until a worker claims it; only its worker ends it, or the sweeper when the worker
    # went silent (a lost run that finishes after all stays lost). Keeping a timed change is not
    # a move of the state: it settles the revert timer of a succeeded run (`revert_pending`).
    TRANSITIONS = Transitions(
        {
            State.AWAITING_APPROVAL: {State.QUEUED, State.REJECTED, State.CANCELLED},
            State.QUEUED: {State.RUNNING, State.CANCELLED},
            State.RUNNING: {State.SUCCEEDED, State.FAILED, State.LOST},
            State.SUCCEEDED: set(),
            State.FAILED: set(),
            State.CANCELLED: set(),
            State.REJECTED: set(),
            State.LOST: set(),
        },
        labels=dict(State.choices),
    )
    OPEN_STATES = tuple(state for state, targets in TRANSITIONS.table.items() if targets)
    FINISHED_STATES = tuple(state for state, targets in TRANSITIONS.table.items() if not targets)
    # A succeeded change whose revert timer runs: its undo starts by itself unless someone keeps it.
    REVERT_PENDING = models.Q(state=State.SUCCEEDED, revert_due_at__isnull=False, revert_settled_at__isnull=True)

    action = models.CharField(max_length=40, db_index=True)
    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="action_runs")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="action_runs")
    checklist_item = models.ForeignKey(
        ChecklistItem,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="action_runs",
        help_text="The runbook step this run ticks when it succeeds and its verification passes.",
    )
    params = models.JSONField(default=dict, blank=True)
    dry_run = models.BooleanField(default=False)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED, db_index=True)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when Incident Center itself asked (a revert timer).",
    )
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    needs_approval = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True, help_text="Why it was rejected or cancelled.")
    break_glass_reason = models.CharField(max_length=1000, blank=True)
    evidence_override_reason = models.CharField(max_length=1000, blank=True)
    keep_session_digest = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the requester's session key (kept signed in by a reset)."
    )

    queued_at = models.DateTimeField(null=True, blank=True, help_text="When its message was last sent.")
    send_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    exit_status = models.CharField(max_length=200, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True)
    verified = models.BooleanField(default=False)

    revert_minutes = models.PositiveIntegerField(null=True, blank=True)
    revert_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revert_settled_at = models.DateTimeField(null=True, blank=True)
    revert_settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    undoes = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="undone_by",
        help_text="The run whose change this run reverts.",
    )

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["state", "queued_at"], name="run_state_queued")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} on {self.host_id}"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @property
    def revert_pending(self) -> bool:
        """`REVERT_PENDING` for this row: the page offers "Keep this change" and `run_keep` accepts it."""
        return self.state == self.State.SUCCEEDED and self.revert_due_at is not None and self.revert_settled_at is None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def requested_by_name(self) -> str:
        return self.requested_by.display_name if self.requested_by else "Incident Center"


class RunLogLine(AppendOnlyModel):
    """One line of a run's output, in order. Append-only (a trigger on PostgreSQL as well)."""

    run = models.ForeignKey(ActionRun, on_delete=models.PROTECT, related_name="log_lines")
    seq = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    stream = models.CharField(max_length=10, default="out")
    text = models.TextField(max_length=4000)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="unique_run_log_seq")]

    def __str__(self) -> str:
        return self.text[:80]


class Artifact(models.Model):
    """A file an action produced on its host: a database backup, a web content snapshot, a
    forensic bundle. `name` is a bare file name inside the kind's folder (never a path)."""

    class Kind(models.TextChoices):
        BACKUP = "backup", "Database backup"
        WEB_SNAPSHOT = "web_snapshot", "Web content snapshot"
        EVIDENCE = "evidence", "Forensic bundle"

    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="artifacts")
    run = models.ForeignKey(ActionRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="artifacts")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="artifacts")
    name = models.CharField(max_length=200)
    label = models.CharField(max_length=60, blank=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["host", "kind", "name"], name="unique_artifact_name")]

    def __str__(self) -> str:
        return self.name


class ApprovalRule(models.Model):
    """Per-action approval rule, set by admins. Without a row, dangerous actions need a second
    person's approval (a manager or an admin) and the others do not."""

    action = models.CharField(max_length=40, unique=True)
    needs_approval = models.BooleanField(default=True)
    managers_may_approve = models.BooleanField(default=True)
    admins_may_approve = models.BooleanField(default=True)
    allow_break_glass = models.BooleanField(
        default=True, help_text="Let a responder run it without approval by writing a reason (loud on the timeline)."
    )

    class Meta:
        ordering = ["action"]

    def __str__(self) -> str:
        return self.action
