"""Reads for the signed-in communication pages: the update cadence, an incident's updates, the
managers' overview and the maintenance list. Each has a fixed number of queries, whatever the
number of rows. (What the public sees is read by `apps.comms.snapshot`.)

The update cadence: each severity has a time within which the next stakeholder update is due
(`COMMS_CADENCE_MINUTES`). Any update, internal or public, starts the clock again; before the
first one, the clock starts at the declaration. An incident is under the cadence while it is
active, and also while its public face is still unresolved (resolved inside but not yet told
outside). When it is overdue the board says so, and the periodic check reminds its coordinator
(`apps.comms.services.cadence`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from apps.comms.models import (
    ComponentOutage,
    Delivery,
    MaintenanceWindow,
    Notice,
    PublicIncident,
    Subscriber,
    Update,
    UpdateComponent,
)
from apps.incidents.models import Incident, Severity


def cadence_minutes(severity: str) -> int:
    return int(settings.COMMS_CADENCE_MINUTES[severity])


@dataclass(frozen=True)
class Cadence:
    incident_id: int
    severity: str
    minutes: int
    last_update_at: datetime | None
    due_at: datetime

    def overdue(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.due_at

    @property
    def reason(self) -> str:
        return f"Communications overdue ({Severity(self.severity).label}: an update every {self.minutes} min)"


def cadences(incidents: Sequence[Incident]) -> dict[int, Cadence]:
    """When each incident's next update is due, in one query for all of them."""
    if not incidents:
        return {}
    last = dict(
        Update.objects.filter(incident_id__in=[i.pk for i in incidents])
        .order_by()
        .values("incident_id")
        .annotate(last=Max("created_at"))
        .values_list("incident_id", "last")
    )
    result = {}
    for incident in incidents:
        minutes = cadence_minutes(incident.severity)
        last_at = last.get(incident.pk)
        start = max(last_at, incident.declared_at) if last_at else incident.declared_at
        result[incident.pk] = Cadence(
            incident_id=incident.pk,
            severity=incident.severity,
            minutes=minutes,
            last_update_at=last_at,
            due_at=start + timedelta(minutes=minutes),
        )
    return result


def under_cadence() -> QuerySet[Incident]:
    """Active incidents, and those whose public face still says they are not resolved."""
    unresolved_publicly = Q(public_incident__isnull=False) & ~Q(public_incident__status=PublicIncident.Status.RESOLVED)
    return Incident.objects.filter(Q(status__in=Incident.ACTIVE_STATUSES) | unresolved_publicly).select_related(
        "coordinator", "commander"
    )


def attention(incidents: Sequence[Incident]) -> dict[int, list[str]]:
    """The board's attention provider: one query for all the board's incidents."""
    now = timezone.now()
    return {pk: [cadence.reason] for pk, cadence in cadences(incidents).items() if cadence.overdue(now)}


def incident_component_states(incident: Incident) -> dict[int, str]:
    """The state each component is in because of this incident (as last published)."""
    return dict(
        ComponentOutage.objects.filter(public_incident__incident=incident, ended_at__isnull=True).values_list(
            "component_id", "state"
        )
    )


@dataclass
class DeliveryCounts:
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __getattr__(self, name: str) -> int:
        if name.startswith("_") or name == "counts":
            raise AttributeError(name)
        return self.counts.get(name, 0)


def incident_updates(incident: Incident) -> list[Update]:
    """Every update of the incident, newest first, with its components and mail outcome."""
    updates = list(
        Update.objects.filter(incident=incident)
        .select_related("author", "corrects")
        .prefetch_related(Prefetch("affected", queryset=UpdateComponent.objects.select_related("component")))
    )
    counts: dict[int, DeliveryCounts] = defaultdict(DeliveryCounts)
    rows = (
        Delivery.objects.filter(notice__update__incident=incident)
        .values_list("notice__update_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for update_id, status, n in rows:
        counts[update_id].counts[status] = n
    for update in updates:
        update.mail = counts.get(update.pk)
    return updates


@dataclass
class OverviewRow:
    incident: Incident
    cadence: Cadence
    latest: Update | None
    public_incident: PublicIncident | None
    overdue: bool

    @property
    def told_public_unresolved(self) -> bool:
        """Resolved inside, but the status page still says otherwise."""
        return not self.incident.is_active and self.public_incident is not None and not self.public_incident.is_resolved


def overview() -> list[OverviewRow]:
    """Every incident under the update cadence, most severe and oldest first, with its latest
    update and when the next is due."""
    latest = Update.objects.filter(incident=OuterRef("pk")).order_by("-created_at", "-pk").values("pk")[:1]
    incidents = list(
        under_cadence()
        .select_related("public_incident")
        .annotate(latest_update_id=Subquery(latest))
        .order_by("severity", "declared_at")
    )
    ids = [getattr(i, "latest_update_id", None) for i in incidents]
    updates = {u.pk: u for u in Update.objects.filter(pk__in=[i for i in ids if i]).select_related("author")}
    due = cadences(incidents)
    now = timezone.now()
    return [
        OverviewRow(
            incident=incident,
            cadence=due[incident.pk],
            latest=updates.get(getattr(incident, "latest_update_id", None) or 0),
            public_incident=getattr(incident, "public_incident", None),
            overdue=due[incident.pk].overdue(now),
        )
        for incident in incidents
    ]


def mail_overview() -> dict[str, Any]:
    """Subscribers, recent notices with their outcomes, and the deliveries that failed."""
    notices = list(Notice.objects.select_related("update", "maintenance").order_by("-created_at")[:10])
    counts: dict[int, DeliveryCounts] = defaultdict(DeliveryCounts)
    rows = (
        Delivery.objects.filter(notice__in=notices)
        .values_list("notice_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for notice_id, status, n in rows:
        counts[notice_id].counts[status] = n
    for notice in notices:
        notice.mail = counts[notice.pk]  # type: ignore[attr-defined]
    return {
        "subscribers": Subscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True).count(),
        "notices": notices,
        "failed": list(
            Delivery.objects.filter(status=Delivery.Status.FAILED)
            .select_related("notice", "subscriber")
            .order_by("-pk")[:50]
        ),
    }


def maintenance_windows() -> dict[str, list[MaintenanceWindow]]:
    now = timezone.now()
    windows = list(MaintenanceWindow.objects.prefetch_related("components").order_by("-starts_at")[:100])
    return {
        "current": sorted(
            (
                w
                for w in windows
                if w.status_at(now) in {MaintenanceWindow.Status.SCHEDULED, MaintenanceWindow.Status.IN_PROGRESS}
            ),
            key=lambda w: w.starts_at,
        ),
        "past": [
            w
            for w in windows
            if w.status_at(now) in {MaintenanceWindow.Status.COMPLETED, MaintenanceWindow.Status.CANCELLED}
        ],
    }
