"""Push fresh health readings to open pages. Widgets look the same to every signed-in user, so
they are rendered once per sample, where the sample is recorded, and consumers only forward."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from apps.core.live import broadcast
from apps.health import selectors
from apps.health.models import Host, SecuritySnapshot

HEALTH_GROUP = "health"


def render_widgets(host: Host, probes: list[str] | None = None) -> dict[str, str]:
    return {
        widget.probe: render_to_string("health/_widget.html", {"widget": widget, "oob": True})
        for widget in selectors.widgets([host], probes)
    }


def render_strip() -> str:
    statuses = selectors.host_statuses()
    return render_to_string(
        "health/_strip.html", {"statuses": statuses, "signals": selectors.critical_signals(statuses), "oob": True}
    )


def publish_host(host: Host, probes: list[str] | None = None) -> None:
    """Send the host's widgets and the board strip to every open health view."""
    message: dict[str, Any] = {
        "type": "health.update",
        "host": host.name,
        "widgets": render_widgets(host, probes),
        "strip": render_strip(),
    }
    broadcast([HEALTH_GROUP], message)


def publish_snapshot(snapshot: SecuritySnapshot) -> None:
    html = render_to_string("health/_snapshot.html", {"snapshot": snapshot, "oob": True})
    broadcast(
        [HEALTH_GROUP],
        {"type": "health.update", "host": snapshot.host.name, "widgets": {}, "strip": "", "snapshot": html},
    )
