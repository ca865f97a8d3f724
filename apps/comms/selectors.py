"""Reads for the signed-in communication pages: the incident panel, the managers' overview and the
maintenance list. Each has a fixed number of queries, whatever the number of rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.utils import timezone

from apps.comms import access
from apps.comms.cadence import Cadence, cadences, under_cadence
from apps.comms.forms import UpdateForm, component_field_name
from apps.comms.models import (
    Component,
    Delivery,
    MaintenanceWindow,
    Notice,
    PublicIncident,
    Subscriber,
    Update,
    UpdateComponent,
)
from apps.comms.prefill import prefill
from apps.incidents.models import Incident

# What an incident's own status suggests announcing.
ANNOUNCED_STATUS = {
    Incident.Status.INVESTIGATING: Update.Status.INVESTIGATING,
    Incident.Status.IDENTIFIED: Update.Status.IDENTIFIED,
    Incident.Status.MITIGATING: Update.Status.IDENTIFIED,
    Incident.Status.MONITORING: Update.Status.MONITORING,
    Incident.Status.RESOLVED: Update.Status.RESOLVED,
    Incident.Status.CLOSED: Update.Status.RESOLVED,
}


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


def compose_form(
    incident: Incident, *, status: str | None = None, audience: str | None = None, data: Any = None
) -> UpdateForm:
    """The update form: bound to what was posted, or filled from the template for this status
    and audience (by default, what the incident's own status suggests, internal)."""
    components = list(Component.objects.all())
    earlier = list(Update.objects.filter(incident=incident).order_by("-created_at", "-pk")[:30])
    if data is not None:
        return UpdateForm(data, incident=incident, components=components, earlier=earlier)
    status = status if status in Update.Status.values else ANNOUNCED_STATUS[Incident.Status(incident.status)]
    audience = audience if audience in Update.Audience.values else Update.Audience.INTERNAL
    filled = prefill(incident, status=status, audience=audience, components=components)
    initial: dict[str, Any] = {"audience": audience, "status": status, "title": filled.title, "body": filled.body}
    for component in components:
        if component.pk in filled.component_states:
            initial[component_field_name(component)] = filled.component_states[component.pk]
    return UpdateForm(initial=initial, incident=incident, components=components, earlier=earlier)


def panel_context(incident: Incident, user: Any) -> dict[str, Any]:
    """The incident page's communications panel."""
    can_post = access.can_post_updates(user, incident)
    cadence = cadences([incident])[incident.pk]
    return {
        "incident": incident,
        "updates": incident_updates(incident),
        "cadence": cadence,
        "overdue": incident.is_active and cadence.overdue(),
        "can_post": can_post,
        "form": compose_form(incident) if can_post else None,
        "public_incident": PublicIncident.objects.filter(incident=incident).first(),
        "statuses": Update.Status.choices,
    }


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
