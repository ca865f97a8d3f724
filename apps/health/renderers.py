"""The words of the events health records, rendered when read."""

from __future__ import annotations

from django.urls import reverse

from apps.health.models import Probe
from apps.incidents.events import label_of, register_link, renders
from apps.incidents.models import EventKind, TimelineEvent


@renders(EventKind.SIGNAL_RECEIVED)
def signal_received(event: TimelineEvent) -> str:
    count = int(event.data.get("alerts", 1))
    return f"Alertmanager: {event.data['title']} is firing again ({count} alert{'s' if count != 1 else ''})"


@renders(EventKind.ALERT_RESOLVED)
def alert_resolved(event: TimelineEvent) -> str:
    return f"Alertmanager: {event.data['title']} resolved"


@renders(EventKind.SIGNAL_ATTACHED, related=("host",))
def signal_attached(event: TimelineEvent) -> str:
    host = event.host.name if event.host is not None else "a removed host"
    probe = label_of(Probe, event.data["probe"])
    return f"Signal attached: {probe} critical on {host} — {event.data.get('summary', '')}"


def _host_link(event: TimelineEvent) -> tuple[str, str] | None:
    if event.host is None:
        return None
    return event.host.name, reverse("health:host", args=[event.host.name])


register_link("host", _host_link)
