"""Push fresh health readings to open pages. Widgets look the same to every signed-in user, so
they are rendered once per sample, where the sample is recorded, and consumers only forward.

This runs on every host's worker every few seconds, so a round reads as little as it can: the
newest readings of every host once (for the host's widgets and the board strip alike), and the
sparklines, which come from per-minute aggregates, at most once a minute per host."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.template.loader import get_template, render_to_string
from django.utils import timezone

from apps.core.live import broadcast
from apps.health import selectors
from apps.health.models import Host, Sample, SecuritySnapshot
from apps.health.probes import periodic_probes

HEALTH_GROUP = "health"

Latest = dict[tuple[int, str], Sample]
Series = dict[tuple[int, str], list[float]]

# The sparklines of each host this process publishes, and the minute they were read in.
_series: dict[tuple[int, str], tuple[datetime, Series]] = {}


def sparkline_series(host: Host, now: datetime | None = None) -> Series:
    """The host's last hour per probe, read at most once a minute: the points are per-minute
    aggregates, so reading them every few seconds would redraw the same line."""
    minute = (now or timezone.now()).replace(second=0, microsecond=0)
    key = (host.pk, host.name)
    cached = _series.get(key)
    if cached is None or cached[0] != minute:
        cached = (minute, selectors.recent_values([host], list(periodic_probes())))
        _series[key] = cached
    return cached[1]


def render_widgets(host: Host, probes: Sequence[str] | None = None, *, latest: Latest | None = None) -> dict[str, str]:
    template = get_template("health/_widget.html")
    widgets = selectors.widgets([host], probes, latest=latest, series=sparkline_series(host))
    return {widget.probe: template.render({"widget": widget, "oob": True}) for widget in widgets}


def render_strip(hosts: Sequence[Host] | None = None, *, latest: Latest | None = None) -> str:
    statuses = selectors.host_statuses(hosts, latest=latest)
    return render_to_string(
        "health/_strip.html", {"statuses": statuses, "signals": selectors.critical_signals(statuses), "oob": True}
    )


def publish_host(host: Host, probes: list[str] | None = None) -> None:
    """Send the host's widgets and the board strip to every open health view."""
    hosts = list(Host.objects.all())
    latest = selectors.latest_samples(hosts)
    message: dict[str, Any] = {
        "type": "health.update",
        "host": host.name,
        "widgets": render_widgets(host, probes, latest=latest),
        "strip": render_strip(hosts, latest=latest),
    }
    broadcast([HEALTH_GROUP], message)


def publish_snapshot(snapshot: SecuritySnapshot) -> None:
    html = render_to_string("health/_snapshot.html", {"snapshot": snapshot, "oob": True})
    broadcast(
        [HEALTH_GROUP],
        {"type": "health.update", "host": snapshot.host.name, "widgets": {}, "strip": "", "snapshot": html},
    )
