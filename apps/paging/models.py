"""Paging: how to reach each contact, the escalation of each incident, and every delivery.

The database is the record of an escalation: which level it is at, the step that is due next and
when, every page and every attempt to deliver it. Celery messages only carry the id of a step;
a step that is not the active one any more, or that arrives after an acknowledgement, does nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.contacts.models import Contact, ContactRole
from apps.core.transitions import Transitions
from apps.incidents.models import Incident, NotificationEntry


class Channel(models.Model):
    """One way to reach a contact. The primary is tried first, then the secondary."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Chat webhook (Slack/Mattermost)"
        SMS = "sms", "SMS"

    class Priority(models.TextChoices):
        PRIMARY = "primary", "Primary"
        SECONDARY = "secondary", "Secondary"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="paging_channels")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    address = models.CharField(
        max_length=500, help_text="Email address, incoming-webhook URL, or phone number in international format."
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.PRIMARY)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_sent_at = models.DateTimeField(null=True, blank=True)
    verification_outcome = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["contact", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "priority"], name="one_channel_per_contact_priority"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.address} ({self.get_priority_display().lower()})"

    @property
    def needs_verification(self) -> bool:
        if self.verified_at is None:
            return True
        return self.verified_at < timezone.now() - timedelta(days=settings.CONTACT_VERIFY_DAYS)


class Escalation(models.Model):
    """The paging of one incident: its copy of the escalation path and where it stands."""

    class State(models.TextChoices):
        ACTIVE = "active", "Escalating"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        EXHAUSTED = "exhausted", "Unacknowledged after the whole path"
        STOPPED = "stopped", "Stopped"

    # Paging runs until someone acknowledges, the path is exhausted or the incident is over. An
    # exhausted escalation may still be acknowledged, or started again by hand (escalate now,
    # re-page); so may an active one, which is what active → active means. Acknowledged and
    # stopped are final.
    TRANSITIONS = Transitions(
        {
            State.ACTIVE: {State.ACTIVE, State.ACKNOWLEDGED, State.EXHAUSTED, State.STOPPED},
            State.EXHAUSTED: {State.ACTIVE, State.ACKNOWLEDGED},
            State.ACKNOWLEDGED: set(),
            State.STOPPED: set(),
        },
        labels=dict(State.choices),
    )

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT, related_name="escalation")
    state = models.CharField(max_length=15, choices=State.choices, default=State.ACTIVE)
    started_at = models.DateTimeField(default=timezone.now)
    # Positions in this escalation's copy of the path (1-based).
    start_level = models.PositiveSmallIntegerField(default=1, help_text="The scenario's first contact level.")
    repeats = models.PositiveSmallIntegerField(default=1, help_text="Times the path is paged again after the last.")
    current_first_level = models.PositiveSmallIntegerField(null=True, blank=True)
    current_level = models.PositiveSmallIntegerField(null=True, blank=True)
    cycle = models.PositiveSmallIntegerField(default=0)
    active_step = models.ForeignKey(
        "EscalationStep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    next_step_due_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_by_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_name = models.CharField(max_length=200, blank=True)
    acknowledged_via = models.CharField(max_length=100, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    late_warning = models.CharField(max_length=300, blank=True, help_text="Set by the auditor for a late step.")

    class Meta:
        indexes = [models.Index(fields=["state", "next_step_due_at"])]

    def __str__(self) -> str:
        return f"Escalation of {self.incident}"

    @property
    def is_open(self) -> bool:
        """Nobody has acknowledged yet and the incident is still being paged or gave up."""
        return self.TRANSITIONS.can(self.state, self.State.ACKNOWLEDGED)


class PathLevel(models.Model):
    """A level of the escalation path as it was when the escalation started."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField()
    role = models.ForeignKey(ContactRole, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    role_name = models.CharField(max_length=100)
    ack_timeout_seconds = models.PositiveIntegerField()

    class Meta:
        ordering = ["escalation", "position"]
        constraints = [models.UniqueConstraint(fields=["escalation", "position"], name="unique_path_level_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.role_name}"

    @property
    def timeout_minutes(self) -> float:
        minutes = self.ack_timeout_seconds / 60
        return int(minutes) if minutes == int(minutes) else round(minutes, 1)


class EscalationStep(models.Model):
    """One scheduled move of an escalation: page some levels when it is due. Only the
    escalation's active step may run, once."""

    class Kind(models.TextChoices):
        START = "start", "First page"
        TIMEOUT = "timeout", "Escalation after the timeout"
        REPEAT = "repeat", "Path paged again"
        ESCALATE = "escalate", "Escalated by hand"
        REPAGE = "repage", "Re-paged by hand"
        EXHAUST = "exhaust", "End of the path"

    class State(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"

    # A step runs once, or is skipped when another step takes its place or the escalation ends.
    TRANSITIONS = Transitions(
        {State.SCHEDULED: {State.DONE, State.SKIPPED}, State.DONE: set(), State.SKIPPED: set()},
        labels=dict(State.choices),
    )

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="steps")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    first_level = models.PositiveSmallIntegerField(null=True, blank=True)
    last_level = models.PositiveSmallIntegerField(null=True, blank=True)
    cycle = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)
    ran_at = models.DateTimeField(null=True, blank=True)
    ran_by_auditor = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["escalation", "number"]
        constraints = [models.UniqueConstraint(fields=["escalation", "number"], name="unique_escalation_step_number")]

    def __str__(self) -> str:
        return f"Step {self.number} ({self.get_kind_display()}) of {self.escalation}"


class Page(models.Model):
    """One contact paged by one step. Delivered through the contact's channels in order."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed on every channel"
        CANCELLED = "cancelled", "Not sent: already acknowledged"

    # A worker claims a pending page (pending → sending) and ends it; the auditor hands a page
    # whose worker died while sending back to pending, to be sent again.
    TRANSITIONS = Transitions(
        {
            State.PENDING: {State.SENDING},
            State.SENDING: {State.SENT, State.FAILED, State.CANCELLED, State.PENDING},
            State.SENT: set(),
            State.FAILED: set(),
            State.CANCELLED: set(),
        },
        labels=dict(State.choices),
    )

    escalation = models.ForeignKey(Escalation, on_delete=models.PROTECT, related_name="pages")
    step = models.ForeignKey(EscalationStep, on_delete=models.PROTECT, related_name="pages")
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    contact_name = models.CharField(max_length=150)
    role_name = models.CharField(max_length=100)
    level = models.PositiveSmallIntegerField()
    ack_due_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"Page to {self.contact_name} for {self.incident}"

    @property
    def recipient(self) -> str:
        return f"{self.contact_name} ({self.role_name})"


class DeliveryAttempt(models.Model):
    """One try to deliver a page (or a verification message) through one channel, and its outcome."""

    class Outcome(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent (accepted by the mail server)"
        DELIVERED = "delivered", "Delivered to the gateway"
        FAILED = "failed", "Failed"

    TRANSITIONS = Transitions(
        {
            Outcome.SENDING: {Outcome.SENT, Outcome.DELIVERED, Outcome.FAILED},
            Outcome.SENT: set(),
            Outcome.DELIVERED: set(),
            Outcome.FAILED: set(),
        },
        field="outcome",
        labels=dict(Outcome.choices),
    )

    page = models.ForeignKey(Page, on_delete=models.PROTECT, related_name="attempts")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="attempts")
    kind = models.CharField(max_length=10, choices=Channel.Kind.choices)
    address = models.CharField(max_length=500)
    priority = models.CharField(max_length=10, choices=Channel.Priority.choices)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SENDING)
    detail = models.CharField(max_length=500, blank=True)
    notification = models.ForeignKey(
        NotificationEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["page", "started_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.address}: {self.get_outcome_display()}"

    @property
    def succeeded(self) -> bool:
        return self.outcome in (self.Outcome.SENT, self.Outcome.DELIVERED)


class VerificationReminder(models.Model):
    """A reminder mailed to the admins to verify contact information (the seed: quarterly)."""

    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.TextField()
    stale_channels = models.PositiveIntegerField()

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"Verification reminder of {self.sent_at:%Y-%m-%d}"
