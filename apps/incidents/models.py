from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.contacts.models import Contact
from apps.runbooks.models import Action, Runbook, Scenario


class Severity(models.TextChoices):
    SEV1 = "sev1", "SEV1"
    SEV2 = "sev2", "SEV2"
    SEV3 = "sev3", "SEV3"
    SEV4 = "sev4", "SEV4"


SEVERITY_MEANINGS = {
    Severity.SEV1: "Critical: the system is down or data is being lost for everyone.",
    Severity.SEV2: "Major: a core function is unavailable or badly degraded for many users.",
    Severity.SEV3: "Minor: part of the system is degraded and a workaround exists.",
    Severity.SEV4: "Low: little user impact; can wait for working hours.",
}


class Incident(models.Model):
    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MITIGATING = "mitigating", "Mitigating"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    ACTIVE_STATUSES = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MITIGATING, Status.MONITORING)

    title = models.CharField(max_length=200)
    scenario = models.CharField(max_length=30, choices=Scenario.choices)
    severity = models.CharField(max_length=4, choices=Severity.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INVESTIGATING)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when a monitoring alert declared it.",
    )
    declared_via = models.CharField(max_length=100, blank=True, help_text="What declared it, when not a person.")
    declared_at = models.DateTimeField(default=timezone.now)
    noticed_at = models.DateTimeField(default=timezone.now, help_text="When the issue was first noticed.")
    affected_components = models.TextField(blank=True, max_length=2000)
    impact = models.TextField(blank=True, max_length=4000, help_text="Impact on users and business operations.")
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    coordinator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="communication coordinator",
    )
    channel_url = models.URLField(
        "communication channel", max_length=500, blank=True, help_text="Chat channel or video call for responders."
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-declared_at"]
        indexes = [models.Index(fields=["status", "severity"]), models.Index(fields=["resolved_at"])]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"INC-{self.pk}"

    @property
    def declared_by_name(self) -> str:
        return self.declared_by.display_name if self.declared_by else (self.declared_via or "Incident Center")

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def severity_meaning(self) -> str:
        return SEVERITY_MEANINGS[Severity(self.severity)]


class ChecklistItem(models.Model):
    """A runbook step copied onto the incident when it was declared; editing the runbook later
    does not change a running incident's checklist."""

    class State(models.TextChoices):
        PENDING = "pending", "To do"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="checklist")
    position = models.PositiveSmallIntegerField()
    phase = models.CharField(max_length=20, choices=Runbook.Kind.choices)
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    action = models.CharField(max_length=40, choices=Action.choices, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    skip_reason = models.CharField(max_length=500, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["incident", "position"]
        constraints = [models.UniqueConstraint(fields=["incident", "position"], name="unique_checklist_position")]

    def __str__(self) -> str:
        return self.title


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """History is never rewritten: bulk updates and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError(f"{self.model.__name__} is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{self.model.__name__} is append-only")


class AppendOnlyModel(models.Model):
    """History rows: added, never changed or deleted through the ORM (a correction is a new row)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError(f"{self._history_name()} are append-only; add a new one instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{self._history_name()} are append-only.")

    def _history_name(self) -> str:
        return str(self._meta.verbose_name_plural).capitalize()


class NotificationEntry(models.Model):
    """Who was notified, when, how; whether they acknowledged (the seed's "record who has been
    notified and when"). Entries are never edited; an acknowledgement is recorded once."""

    class Method(models.TextChoices):
        PHONE = "phone", "Phone call"
        SMS = "sms", "SMS"
        EMAIL = "email", "Email"
        CHAT = "chat", "Chat"
        IN_PERSON = "in_person", "In person"
        OTHER = "other", "Other"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="notifications")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recipient = models.CharField(max_length=200, help_text="Name and role as notified.")
    method = models.CharField(max_length=20, choices=Method.choices)
    notified_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when Incident Center itself sent it (an automatic page).",
    )
    note = models.CharField(max_length=500, blank=True)
    ack_due_at = models.DateTimeField(help_text="After this, an unacknowledged notification is overdue.")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-notified_at", "-pk"]
        verbose_name_plural = "notification entries"

    def __str__(self) -> str:
        return f"{self.recipient} via {self.get_method_display()}"


class TimelineEntry(AppendOnlyModel):
    """One thing that happened on an incident, with who and when. Append-only: a correction is a
    new entry. On PostgreSQL a trigger refuses UPDATE and DELETE as well."""

    class Kind(models.TextChoices):
        DECLARED = "declared", "Declared"
        STATUS = "status", "Status"
        SEVERITY = "severity", "Severity"
        ROLE = "role", "Role"
        DETAILS = "details", "Details"
        CHECKLIST = "checklist", "Checklist"
        NOTIFICATION = "notification", "Notification"
        NOTE = "note", "Note"
        SIGNAL = "signal", "Signal"
        ESCALATION = "escalation", "Escalation"
        ACTION = "action", "Action"
        COMMUNICATION = "communication", "Communication"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when Incident Center itself acted (an escalation, a worker, a webhook).",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    summary = models.CharField(max_length=500)
    body = models.TextField(blank=True, max_length=20000, help_text="Markdown (notes).")

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return self.summary

    @property
    def author_name(self) -> str:
        return self.author.display_name if self.author else "Incident Center"
