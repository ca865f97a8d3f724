"""The words of the events `incidents` records, rendered when read."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from apps.incidents.events import label_of, renders
from apps.incidents.models import EventKind, Incident, NotificationEntry, Severity, TimelineEvent
from apps.runbooks.models import Scenario


@renders(EventKind.DECLARED)
def declared(event: TimelineEvent) -> str:
    d = event.data
    via = f" (by {d['via']})" if d.get("via") else ""
    return f"Declared {label_of(Severity, d['severity'])} {label_of(Scenario, d['scenario'])}: {d['title']}{via}"


@renders(EventKind.STATUS_CHANGED)
def status_changed(event: TimelineEvent) -> str:
    return f"Status: {label_of(Incident.Status, event.data['from'])} → {label_of(Incident.Status, event.data['to'])}"


@renders(EventKind.SEVERITY_CHANGED)
def severity_changed(event: TimelineEvent) -> str:
    return f"Severity: {label_of(Severity, event.data['from'])} → {label_of(Severity, event.data['to'])}"


@renders(EventKind.ROLE_ASSIGNED)
def role_assigned(event: TimelineEvent) -> str:
    role = "Communication coordinator" if event.data["role"] == "coordinator" else "Commander"
    return f"{role}: {event.data.get('name') or 'nobody'}"


def _field_label(name: str) -> str:
    return str(getattr(Incident._meta.get_field(name), "verbose_name", name)).capitalize()


@renders(EventKind.DETAILS_CHANGED)
def details_changed(event: TimelineEvent) -> str:
    field, value = event.data["field"], str(event.data.get("value", ""))
    label = _field_label(field)
    if field == "title":
        return f"Title: {value}"
    if field == "noticed_at" and value:
        return f"{label}: {timezone.localtime(datetime.fromisoformat(value)):%Y-%m-%d %H:%M %Z}"
    if field == "channel_url":
        return f"{label}: {value or 'removed'}"
    return f"{label} updated: {value[:300] or 'cleared'}"


@renders(EventKind.STEP_DONE)
def step_done(event: TimelineEvent) -> str:
    verified = f" (verified by run #{event.run_id})" if event.data.get("verified") and event.run_id else ""
    return f"Done: {event.data['title']}{verified}"


@renders(EventKind.STEP_SKIPPED)
def step_skipped(event: TimelineEvent) -> str:
    return f"Skipped: {event.data['title']} — {event.data.get('reason', '')}"


@renders(EventKind.STEP_REOPENED)
def step_reopened(event: TimelineEvent) -> str:
    return f"Reopened step: {event.data['title']}"


@renders(EventKind.NOTE_ADDED)
def note_added(event: TimelineEvent) -> str:
    first_line = event.body.strip().splitlines()[0] if event.body.strip() else ""
    return f"Note: {first_line[:200]}"


@renders(EventKind.NOTIFICATION_RECORDED)
def notification_recorded(event: TimelineEvent) -> str:
    d = event.data
    how = label_of(NotificationEntry.Method, d["method"]).lower()
    return f"Notified {d['recipient']} by {how}" + (f": {d['note']}" if d.get("note") else "")


@renders(EventKind.NOTIFICATION_ACKNOWLEDGED)
def notification_acknowledged(event: TimelineEvent) -> str:
    return f"{event.data['recipient']} acknowledged"
