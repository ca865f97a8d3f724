from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.contacts.models import Contact
from apps.core.models import AppendOnlyModel
from apps.core.transitions import Transitions
from apps.runbooks import step_actions
from apps.runbooks.models import Runbook, Scenario


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
    # Forward moves may skip states; an active incident may fall back to an earlier active state
    # when things get worse; a resolved incident is closed, or reopened if the problem returns;
    # closed is final (`apps.incidents.lifecycle` words the refusals).
    TRANSITIONS = Transitions(
        {
            Status.INVESTIGATING: {Status.IDENTIFIED, Status.MITIGATING, Status.MONITORING, Status.RESOLVED},
            Status.IDENTIFIED: {Status.INVESTIGATING, Status.MITIGATING, Status.MONITORING, Status.RESOLVED},
            Status.MITIGATING: {Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED},
            Status.MONITORING: {Status.INVESTIGATING, Status.IDENTIFIED, Status.MITIGATING, Status.RESOLVED},
            Status.RESOLVED: {Status.CLOSED, Status.INVESTIGATING},
            Status.CLOSED: set(),
        },
        field="status",
        labels=dict(Status.choices),
    )

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

    TRANSITIONS = Transitions(
        {State.PENDING: {State.DONE, State.SKIPPED}, State.DONE: {State.PENDING}, State.SKIPPED: {State.PENDING}},
        labels=dict(State.choices),
    )

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="checklist")
    position = models.PositiveSmallIntegerField()
    phase = models.CharField(max_length=20, choices=Runbook.Kind.choices)
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    action = models.CharField(max_length=40, choices=step_actions.choices, blank=True)
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


class EventKind(models.TextChoices):
    """What can happen on an incident: the closed set of timeline event kinds.

    Each kind is recorded by one app (the comment before its group) and rendered to words by that
    app's renderer (`apps.incidents.events.renders`), from the event's references and `data`."""

    # incidents: the incident itself, its checklist, notes and notification log
    DECLARED = "declared", "Declared"
    STATUS_CHANGED = "status_changed", "Status changed"
    SEVERITY_CHANGED = "severity_changed", "Severity changed"
    ROLE_ASSIGNED = "role_assigned", "Role assigned"
    DETAILS_CHANGED = "details_changed", "Details changed"
    STEP_DONE = "step_done", "Step done"
    STEP_SKIPPED = "step_skipped", "Step skipped"
    STEP_REOPENED = "step_reopened", "Step reopened"
    NOTE_ADDED = "note_added", "Note added"
    NOTIFICATION_RECORDED = "notification_recorded", "Notification recorded"
    NOTIFICATION_ACKNOWLEDGED = "notification_acknowledged", "Notification acknowledged"
    # paging: pages, acknowledgements and the escalation
    PAGING_STARTED = "paging_started", "Paging started"
    PAGING_STOPPED = "paging_stopped", "Paging stopped"
    PAGE_SENT = "page_sent", "Page sent"
    PAGE_FAILED = "page_failed", "Page failed"
    PAGE_AUDITED = "page_audited", "Page audited"
    ESCALATION_STEP = "escalation_step", "Escalation step"
    ESCALATED = "escalated", "Escalated by hand"
    REPAGED = "repaged", "Re-paged by hand"
    NOBODY_TO_PAGE = "nobody_to_page", "Nobody to page"
    PAGING_EXHAUSTED = "paging_exhausted", "Paging exhausted"
    ESCALATION_LATE = "escalation_late", "Escalation step late"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    # remediation: action runs
    RUN_REQUESTED = "run_requested", "Run requested"
    BREAK_GLASS = "break_glass", "Break glass"
    EVIDENCE_OVERRIDDEN = "evidence_overridden", "Evidence-first overridden"
    RUN_APPROVED = "run_approved", "Run approved"
    RUN_REJECTED = "run_rejected", "Run rejected"
    RUN_CANCELLED = "run_cancelled", "Run cancelled"
    RUN_STARTED = "run_started", "Run started"
    RUN_FINISHED = "run_finished", "Run finished"
    RUN_LOST = "run_lost", "Run lost"
    RUN_KEPT = "run_kept", "Change kept"
    REVERT_STARTED = "revert_started", "Revert timer ran out"
    REVERT_SUPERSEDED = "revert_superseded", "Revert timer superseded"
    # comms: stakeholder updates and the status page
    UPDATE_POSTED = "update_posted", "Update posted"
    UPDATE_OVERDUE = "update_overdue", "Update overdue"
    # health: monitoring signals
    SIGNAL_RECEIVED = "signal_received", "Signal received"
    ALERT_RESOLVED = "alert_resolved", "Alert resolved"
    SIGNAL_ATTACHED = "signal_attached", "Signal attached"
    # written before the timeline was typed, where the old text named no kind
    LEGACY = "legacy", "Earlier entry"


class Component(models.TextChoices):
    """Who acted when no person did."""

    SYSTEM = "system", "Incident Center"
    WORKER = "worker", "Host worker"
    SWEEPER = "sweeper", "Run sweeper"
    ESCALATION = "escalation", "Escalation"
    AUDITOR = "auditor", "Escalation auditor"
    WEBHOOK = "webhook", "Alertmanager webhook"
    MONITOR = "monitor", "Health monitor"
    MAILER = "mailer", "Mailer"
    CADENCE = "cadence", "Update cadence"


def _ref(model: str, related_name: str = "+") -> Any:
    return models.ForeignKey(model, null=True, blank=True, on_delete=models.PROTECT, related_name=related_name)


class TimelineEvent(AppendOnlyModel):
    """One thing that happened on an incident, as a fact: its kind, when, who acted (a user or a
    component), references to the rows involved and a small JSON of values. The words are rendered
    when read (`apps.incidents.events`). Append-only: a correction is a new event."""

    # The references an event may carry, by the name used in `event_record(**refs)` and exports.
    REFS = ("run", "page", "step", "item", "notification", "update", "alert_group", "host")

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    component = models.CharField(
        max_length=20, choices=Component.choices, blank=True, help_text="Who acted when no person did."
    )
    run = _ref("remediation.ActionRun", "events")
    page = _ref("paging.Page")
    step = _ref("paging.EscalationStep")
    item = _ref("incidents.ChecklistItem")
    notification = _ref("incidents.NotificationEntry")
    update = _ref("comms.Update")
    alert_group = _ref("health.AlertGroup")
    host = _ref("health.Host")
    data = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True, max_length=20000, help_text="A note's Markdown.")
    legacy_text = models.CharField(max_length=500, blank=True, help_text="The words of an entry written before kinds.")

    class Meta(AppendOnlyModel.Meta):
        ordering = ["-at", "-pk"]
        verbose_name_plural = "timeline events"
        indexes = [
            models.Index(fields=["incident", "at"], name="event_incident_at"),
            models.Index(fields=["kind", "at"], name="event_kind_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(actor__isnull=False) | ~models.Q(component=""), name="event_has_actor"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on incident {self.incident_id}"

    @property
    def actor_name(self) -> str:
        if self.actor_id is not None and self.actor is not None:
            return str(self.actor.display_name)
        return Component(self.component or Component.SYSTEM).label

    @property
    def text(self) -> str:
        from apps.incidents.events import render

        return render(self)

    @property
    def links(self) -> list[tuple[str, str]]:
        from apps.incidents.events import links

        return links(self)
