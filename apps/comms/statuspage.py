"""The status page as Statuspage's public API v2 documents (summary.json, status.json,
components.json, incidents.json, incidents/unresolved.json, scheduled-maintenances*.json), so
status aggregators and widgets read it unchanged. Field for field, the shape of a captured
Statuspage document (kept in tests/comms/fixtures); every value comes from a `Snapshot`, which
holds public rows only."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from apps.comms.models import Component, MaintenanceWindow
from apps.comms.snapshot import ComponentView, IncidentView, MaintenanceView, Snapshot, UpdateView

JSON = dict[str, Any]


def page_id() -> str:
    """A stable page id derived from the site's address (Statuspage ids are 12 characters)."""
    return hashlib.sha256(settings.SITE_URL.encode()).hexdigest()[:12]


def timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def page(snapshot: Snapshot) -> JSON:
    return {
        "id": page_id(),
        "name": settings.STATUS_PAGE_NAME,
        "url": _absolute(reverse("comms:status")),
        "time_zone": "Etc/UTC",
        "updated_at": timestamp(snapshot.updated_at),
    }


def _component(component: Component, state: str, changed_at: datetime) -> JSON:
    return {
        "id": component.code,
        "name": component.name,
        "status": state,
        "created_at": timestamp(component.created_at),
        "updated_at": timestamp(max(changed_at, component.updated_at)),
        "position": component.position,
        "description": component.description or None,
        "showcase": True,
        "group_id": None,
        "page_id": page_id(),
        "group": False,
        "only_show_if_degraded": False,
    }


def components(snapshot: Snapshot) -> list[JSON]:
    return [_component(view.component, view.state, view.changed_at) for view in snapshot.components]


def _incident_update(update: UpdateView, incident_code: str) -> JSON:
    affected = [
        {"code": a.component.code, "name": a.component.name, "old_status": a.old_state, "new_status": a.new_state}
        for a in update.affected
    ]
    created = timestamp(update.update.created_at)
    return {
        "id": update.update.code,
        "status": update.update.status,
        "body": update.update.body,
        "incident_id": incident_code,
        "created_at": created,
        "updated_at": created,
        "display_at": created,
        "affected_components": affected or None,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def incident(view: IncidentView, snapshot: Snapshot) -> JSON:
    public = view.incident
    current = {c.component.pk: c for c in snapshot.components}
    return {
        "id": public.code,
        "name": public.name,
        "status": public.status,
        "created_at": timestamp(public.created_at),
        "updated_at": timestamp(public.updated_at),
        "monitoring_at": timestamp(public.monitoring_at),
        "resolved_at": timestamp(public.resolved_at),
        "impact": public.impact,
        "shortlink": _absolute(reverse("comms:public_incident", args=[public.code])),
        "started_at": timestamp(public.created_at),
        "page_id": page_id(),
        "incident_updates": [_incident_update(u, public.code) for u in view.updates],
        "components": [_listed(c, current) for c in view.components],
    }


def _listed(component: Component, current: dict[int, ComponentView]) -> JSON:
    view = current.get(component.pk)
    if view is None:
        return _component(component, "operational", component.updated_at)
    return _component(component, view.state, view.changed_at)


def _maintenance_updates(view: MaintenanceView) -> list[JSON]:
    """A window's history in Statuspage's terms: announced, then in progress, then completed."""
    window = view.window
    steps = [("scheduled", window.created_at, window.body)]
    if view.status in {MaintenanceWindow.Status.IN_PROGRESS, MaintenanceWindow.Status.COMPLETED}:
        steps.append(("in_progress", window.starts_at, "Scheduled maintenance is currently in progress."))
    if view.status == MaintenanceWindow.Status.COMPLETED:
        steps.append(("completed", window.ends_at, "The scheduled maintenance has been completed."))
    affected = [
        {"code": c.code, "name": c.name, "old_status": "operational", "new_status": "under_maintenance"}
        for c in view.components
    ]
    return [
        {
            "id": f"{window.code}{index}",
            "status": status,
            "body": body,
            "incident_id": window.code,
            "created_at": timestamp(moment),
            "updated_at": timestamp(moment),
            "display_at": timestamp(moment),
            "affected_components": affected or None,
            "deliver_notifications": True,
            "custom_tweet": None,
            "tweet_id": None,
        }
        for index, (status, moment, body) in reversed(list(enumerate(steps)))
    ]


def maintenance(view: MaintenanceView, snapshot: Snapshot) -> JSON:
    window = view.window
    current = {c.component.pk: c for c in snapshot.components}
    completed = view.status == MaintenanceWindow.Status.COMPLETED
    return {
        "id": window.code,
        "name": window.title,
        "status": view.status,
        "created_at": timestamp(window.created_at),
        "updated_at": timestamp(window.updated_at),
        "monitoring_at": None,
        "resolved_at": timestamp(window.ends_at) if completed else None,
        "impact": "maintenance",
        "shortlink": _absolute(reverse("comms:status")) + f"#maintenance-{window.code}",
        "started_at": timestamp(window.created_at),
        "page_id": page_id(),
        "incident_updates": _maintenance_updates(view),
        "components": [_listed(c, current) for c in view.components],
        "scheduled_for": timestamp(window.starts_at),
        "scheduled_until": timestamp(window.ends_at),
    }


def status(snapshot: Snapshot) -> JSON:
    return {"indicator": snapshot.indicator, "description": snapshot.description}


def summary(snapshot: Snapshot) -> JSON:
    return {
        "page": page(snapshot),
        "components": components(snapshot),
        "incidents": [incident(v, snapshot) for v in snapshot.unresolved],
        "scheduled_maintenances": [maintenance(v, snapshot) for v in snapshot.open_maintenances],
        "status": status(snapshot),
    }


def document(kind: str, snapshot: Snapshot) -> JSON:
    """One of the API's documents, by the name of its URL."""
    if kind == "summary":
        return summary(snapshot)
    if kind == "status":
        return {"page": page(snapshot), "status": status(snapshot)}
    if kind == "components":
        return {"page": page(snapshot), "components": components(snapshot)}
    if kind == "incidents":
        return {"page": page(snapshot), "incidents": [incident(v, snapshot) for v in snapshot.recent]}
    if kind == "unresolved":
        return {"page": page(snapshot), "incidents": [incident(v, snapshot) for v in snapshot.unresolved]}
    windows = {
        "maintenances": snapshot.maintenances,
        "upcoming": [m for m in snapshot.open_maintenances if m.status == MaintenanceWindow.Status.SCHEDULED],
        "active": [m for m in snapshot.open_maintenances if m.status == MaintenanceWindow.Status.IN_PROGRESS],
    }[kind]
    return {"page": page(snapshot), "scheduled_maintenances": [maintenance(v, snapshot) for v in windows]}
