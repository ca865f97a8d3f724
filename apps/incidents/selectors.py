"""Reads for the incident pages. Each page's query count is fixed, whatever the number of rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.incidents import events
from apps.incidents.extensions import attention_for
from apps.incidents.models import ChecklistItem, Incident, NotificationEntry, TimelineEvent
from apps.runbooks.models import Runbook


def _count(queryset: QuerySet[ChecklistItem] | QuerySet[NotificationEntry]) -> Coalesce:
    counted = queryset.order_by().values("incident").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def with_progress(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Annotate checklist progress and what is overdue, without a query per incident."""
    now = timezone.now()
    items = ChecklistItem.objects.filter(incident=OuterRef("pk"))
    pages = NotificationEntry.objects.filter(incident=OuterRef("pk"))
    return queryset.select_related("commander", "coordinator").annotate(
        steps_total=_count(items),
        steps_finished=_count(items.exclude(state=ChecklistItem.State.PENDING)),
        initial_pending=_count(items.filter(phase=Runbook.Kind.INITIAL_RESPONSE, state=ChecklistItem.State.PENDING)),
        unacknowledged_overdue=_count(pages.filter(acknowledged_at__isnull=True, ack_due_at__lt=now)),
    )


@dataclass
class BoardRow:
    incident: Incident
    overdue: list[str] = field(default_factory=list)

    @property
    def progress_percent(self) -> int:
        total = getattr(self.incident, "steps_total", 0)
        return round(100 * getattr(self.incident, "steps_finished", 0) / total) if total else 0


def overdue_reasons(incident: Incident) -> list[str]:
    """What needs attention now, in words (from `with_progress` annotations)."""
    reasons = []
    if incident.is_active and incident.commander_id is None:
        reasons.append("No incident commander")
    initial_deadline = incident.declared_at + timedelta(minutes=settings.INITIAL_RESPONSE_MINUTES)
    initial_pending = int(getattr(incident, "initial_pending", 0))
    if incident.is_active and initial_pending and timezone.now() > initial_deadline:
        reasons.append(f"Initial response unfinished after {settings.INITIAL_RESPONSE_MINUTES} min")
    unacked = getattr(incident, "unacknowledged_overdue", 0)
    if unacked:
        reasons.append(f"{unacked} notification{'s' if unacked != 1 else ''} not acknowledged in time")
    return reasons


@dataclass
class Board:
    active: list[BoardRow]
    recently_resolved: list[BoardRow]
    recent_hours: int


def board() -> Board:
    """Active incidents, most severe and oldest first; then those resolved in the monitoring window."""
    since = timezone.now() - timedelta(hours=settings.RECENTLY_RESOLVED_HOURS)
    active = with_progress(Incident.objects.filter(status__in=Incident.ACTIVE_STATUSES)).order_by(
        "severity", "declared_at"
    )
    resolved = with_progress(
        Incident.objects.filter(
            Q(status=Incident.Status.RESOLVED) | Q(status=Incident.Status.CLOSED), resolved_at__gte=since
        )
    ).order_by("-resolved_at")
    active_list = list(active)
    extra = attention_for(active_list)
    return Board(
        active=[BoardRow(i, overdue_reasons(i) + extra.get(i.pk, [])) for i in active_list],
        recently_resolved=[BoardRow(i) for i in resolved],
        recent_hours=settings.RECENTLY_RESOLVED_HOURS,
    )


def incident_for_page(incident_id: int) -> Incident:
    return with_progress(Incident.objects.select_related("declared_by")).get(pk=incident_id)


def checklist(incident: Incident) -> list[ChecklistItem]:
    return list(incident.checklist.select_related("completed_by").order_by("position"))


def notifications(incident: Incident) -> list[NotificationEntry]:
    return list(incident.notifications.select_related("recorded_by", "acknowledged_recorded_by", "contact"))


def timeline(incident: Incident) -> list[TimelineEvent]:
    """Newest first, with whatever the renderers read, in one query."""
    return list(events.with_related(incident.events.all()))


def timeline_in_order(incident: Incident) -> list[TimelineEvent]:
    """Oldest first, for exports."""
    return list(events.with_related(incident.events.order_by("at", "pk")))


def incident_history(*, status: str = "", scenario: str = "") -> QuerySet[Incident]:
    queryset = with_progress(Incident.objects.all()).order_by("-declared_at")
    if status:
        queryset = queryset.filter(status=status)
    if scenario:
        queryset = queryset.filter(scenario=scenario)
    return queryset
