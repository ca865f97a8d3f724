"""Stakeholder communications: updates on incidents, the public status page's components and
maintenance windows, and the subscribers who get public updates by mail.

What the public sees is only ever what was published for it: a `PublicIncident` (its own public
name, never the internal title), its public `Update`s, the `Component`s they name, and
`MaintenanceWindow`s. Internal updates, timeline entries, responders and hosts stay inside.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import AppendOnlyModel
from apps.core.transitions import Transitions
from apps.incidents.models import Incident

_CODE_ALPHABET = string.ascii_lowercase + string.digits


def new_code() -> str:
    """A public identifier in the style of Statuspage ids (12 characters): it says nothing about
    how many incidents there were, unlike an internal primary key."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))


class ComponentState(models.TextChoices):
    OPERATIONAL = "operational", "Operational"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"


# How bad a state is, for "the worst state wins" (an outage during maintenance shows the outage).
STATE_RANK: dict[str, int] = {
    ComponentState.OPERATIONAL: 0,
    ComponentState.UNDER_MAINTENANCE: 1,
    ComponentState.DEGRADED_PERFORMANCE: 2,
    ComponentState.PARTIAL_OUTAGE: 3,
    ComponentState.MAJOR_OUTAGE: 4,
}


def worst_state(states: list[str]) -> str:
    return max(states, key=STATE_RANK.__getitem__, default=ComponentState.OPERATIONAL)


class Impact(models.TextChoices):
    """Statuspage's incident impact, from the worst component state the incident caused."""

    NONE = "none", "None"
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"


IMPACT_RANK = {Impact.NONE: 0, Impact.MINOR: 1, Impact.MAJOR: 2, Impact.CRITICAL: 3}
IMPACT_OF_STATE = {
    ComponentState.OPERATIONAL: Impact.NONE,
    ComponentState.UNDER_MAINTENANCE: Impact.NONE,
    ComponentState.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentState.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentState.MAJOR_OUTAGE: Impact.CRITICAL,
}


class Component(models.Model):
    """A part of the protected system as customers know it (website, application, email…).
    Admins manage the list; its state is derived from public updates and maintenance windows."""

    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True, help_text="Shown on the public status page.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order on the status page (smallest first).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class PublicIncident(models.Model):
    """The face an incident shows on the status page, created by its first public update and kept
    in step with the latest one (status, name, impact). Everything here is public."""

    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT, related_name="public_incident")
    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices)
    impact = models.CharField(max_length=10, choices=Impact.choices, default=Impact.NONE)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    monitoring_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["-created_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_resolved(self) -> bool:
        return self.status == self.Status.RESOLVED


class Update(AppendOnlyModel):
    """A stakeholder update on an incident: internal (responders and managers) or public (the
    status page, its JSON and its subscribers). Append-only: a correction is a new update that
    names the one it corrects; on PostgreSQL a trigger refuses UPDATE and DELETE as well."""

    Status = PublicIncident.Status

    class Audience(models.TextChoices):
        INTERNAL = "internal", "Internal"
        PUBLIC = "public", "Public"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="comms_updates")
    public_incident = models.ForeignKey(
        PublicIncident, null=True, blank=True, on_delete=models.PROTECT, related_name="updates"
    )
    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    audience = models.CharField(max_length=10, choices=Audience.choices)
    status = models.CharField(max_length=20, choices=Status.choices, help_text="The incident status it announces.")
    title = models.CharField(max_length=200, blank=True, help_text="Public updates: the incident's public name.")
    body = models.TextField(max_length=10000, help_text="Markdown, sanitised when shown.")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections")

    class Meta(AppendOnlyModel.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["incident", "-created_at"]), models.Index(fields=["audience", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_audience_display()} update on {self.incident.reference}: {self.get_status_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The base refuses too; this says what to do instead.
        if not self._state.adding:
            raise PermissionError("Updates are never edited; post a correction instead.")
        super().save(*args, **kwargs)

    @property
    def is_public(self) -> bool:
        return self.audience == self.Audience.PUBLIC


class UpdateComponent(AppendOnlyModel):
    """A component an update names, with the state it was in and the state announced (append-only,
    like its update)."""

    update = models.ForeignKey(Update, on_delete=models.PROTECT, related_name="affected")
    component = models.ForeignKey(Component, on_delete=models.PROTECT, related_name="+")
    old_state = models.CharField(max_length=25, choices=ComponentState.choices)
    new_state = models.CharField(max_length=25, choices=ComponentState.choices)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["component__position", "component__name"]
        constraints = [models.UniqueConstraint(fields=["update", "component"], name="comms_update_component_once")]

    def __str__(self) -> str:
        return f"{self.component}: {self.get_new_state_display()}"


class ComponentOutage(models.Model):
    """A span of time a public incident held a component in a state other than operational.
    Open spans give the components' current state; spans of the last 90 days draw the strip."""

    component = models.ForeignKey(Component, on_delete=models.PROTECT, related_name="outages")
    public_incident = models.ForeignKey(PublicIncident, on_delete=models.PROTECT, related_name="outages")
    state = models.CharField(max_length=25, choices=ComponentState.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at"]
        indexes = [models.Index(fields=["ended_at"]), models.Index(fields=["public_incident", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.component} {self.state} from {self.started_at:%Y-%m-%d %H:%M}"


class MaintenanceWindow(models.Model):
    """Planned work announced in advance; its components are under maintenance while it runs."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    # What people may do to a window (the clock moves it from scheduled to in progress to
    # completed by itself): call it off before it ends, or finish it early while it runs. `status`
    # is computed from the times, so the services and `can_become` read it there.
    TRANSITIONS = Transitions(
        {
            Status.SCHEDULED: {Status.CANCELLED},
            Status.IN_PROGRESS: {Status.CANCELLED, Status.COMPLETED},
            Status.COMPLETED: set(),
            Status.CANCELLED: set(),
        },
        field="status",
        labels=dict(Status.choices),
    )

    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=5000, help_text="Markdown: what will happen and what customers will notice.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    components = models.ManyToManyField(Component, related_name="maintenance_windows")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="comms_window_ends_after"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def status_at(self, now: datetime) -> str:
        if self.cancelled_at is not None:
            return self.Status.CANCELLED
        if now < self.starts_at:
            return self.Status.SCHEDULED
        if now < self.ends_at:
            return self.Status.IN_PROGRESS
        return self.Status.COMPLETED

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())

    @property
    def status_label(self) -> str:
        return self.Status(self.status).label


class Subscriber(models.Model):
    """Someone who asked for public updates by mail. Nothing is sent before they confirm (double
    opt-in); a new request is held in `pending_*` until its link is followed, so nobody can change
    someone else's subscription by typing their address."""

    email = models.EmailField(unique=True)
    all_components = models.BooleanField(default=True)
    components = models.ManyToManyField(Component, blank=True, related_name="subscribers")
    pending_all_components = models.BooleanField(default=True)
    pending_component_codes = models.JSONField(default=list, blank=True)
    confirm_nonce = models.CharField(max_length=32, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["email"]
        indexes = [models.Index(fields=["confirmed_at", "unsubscribed_at"])]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class Notice(models.Model):
    """One mail to subscribers (a public update or a maintenance announcement), its text frozen
    when it was published; each recipient is a `Delivery`."""

    class Kind(models.TextChoices):
        UPDATE = "update", "Public update"
        MAINTENANCE = "maintenance", "Maintenance announcement"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    update = models.OneToOneField(Update, null=True, blank=True, on_delete=models.PROTECT, related_name="notice")
    maintenance = models.ForeignKey(
        MaintenanceWindow, null=True, blank=True, on_delete=models.PROTECT, related_name="notices"
    )
    subject = models.CharField(max_length=300)
    text_body = models.TextField()
    html_body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.subject


class Delivery(models.Model):
    """One subscriber's copy of a notice and its outcome. A worker claims pending rows with a
    conditional update, so a duplicate message never mails anyone twice."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Not sent: unsubscribed"

    # A batch claims pending rows (sending); each ends sent, failed for good, cancelled (the
    # subscriber left meanwhile) or pending again for a retry, as does a row a dead worker left
    # sending. An admin may give failed rows another round.
    TRANSITIONS = Transitions(
        {
            Status.PENDING: {Status.SENDING},
            Status.SENDING: {Status.SENT, Status.FAILED, Status.CANCELLED, Status.PENDING},
            Status.FAILED: {Status.PENDING},
            Status.SENT: set(),
            Status.CANCELLED: set(),
        },
        field="status",
        labels=dict(Status.choices),
    )

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["notice", "subscriber"], name="comms_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.notice} → {self.subscriber}: {self.status}"


class CadenceReminder(models.Model):
    """A reminder that an incident's next stakeholder update was due at `due_at`. One per overdue
    period: the unique key is what stops a reminder from repeating."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="comms_reminders")
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    recipient = models.EmailField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["incident", "due_at"], name="comms_one_reminder_per_period")]

    def __str__(self) -> str:
        return f"{self.incident.reference} update due {self.due_at:%Y-%m-%d %H:%M}"
