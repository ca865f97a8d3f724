"""Push fresh health readings to open pages. Widgets look the same to every signed-in user, so
they are rendered once per sample, where the sample is recorded, and travel in the message; each
open page keeps what it shows (`health:strip`, `health:widgets[:<host>|*[:<probe>,…]]`).

This runs on every host's worker every few seconds, so a round reads as little as it can: the
newest readings of every host once (for the host's widgets and the board strip alike), and the
sparklines, which come from per-minute aggregates, at most once a minute per host."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.template.loader import get_template, render_to_string
from django.utils import timezone

from apps.accounts.permissions import can_view
from apps.core.live import BadSubscription, LivePart, everyone, publish, register_part
from apps.health import selectors
from apps.health.models import Host, Probe, Sample, SecuritySnapshot, host_name_validator
from apps.health.probes import periodic_probes

HEALTH_TOPIC = "health"

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
    """Send the host's widgets and the board strip to every open health view (after commit)."""
    hosts = list(Host.objects.all())
    latest = selectors.latest_samples(hosts)
    data: dict[str, Any] = {
        "host": host.name,
        "widgets": render_widgets(host, probes, latest=latest),
        "strip": render_strip(hosts, latest=latest),
    }
    publish(HEALTH_TOPIC, data)


def publish_snapshot(snapshot: SecuritySnapshot) -> None:
    html = render_to_string("health/_snapshot.html", {"snapshot": snapshot, "oob": True})
    publish(HEALTH_TOPIC, {"host": snapshot.host.name, "snapshot": html})


# --- what each open page keeps -------------------------------------------------------------------
def _view(key: str) -> tuple[str, str, frozenset[str]]:
    """("strip" or "widgets", a host name or "" for every host, the probes or none for all)."""
    kind, _, rest = key.partition(":")
    if kind == "strip" and not rest:
        return kind, "", frozenset()
    if kind != "widgets":
        raise BadSubscription(key)
    host, _, listed = rest.partition(":")
    probes = frozenset(p for p in listed.split(",") if p)
    if host == "*":
        host = ""
    elif host:
        try:
            host_name_validator(host)
        except ValidationError:
            raise BadSubscription(key) from None
    if not probes <= set(Probe.values):
        raise BadSubscription(key)
    return kind, host, probes


def _topic(key: str) -> str:
    _view(key)
    return HEALTH_TOPIC


def _render(key: str, user: Any, data: dict[str, Any] | None) -> str:
    if not data:
        # Nothing to catch up from the database: the next sample arrives within seconds.
        return ""
    kind, host, probes = _view(key)
    if kind == "strip":
        return str(data.get("strip", ""))
    if host and data.get("host") != host:
        return ""
    widgets: dict[str, str] = data.get("widgets") or {}
    html = "".join(h for probe, h in widgets.items() if not probes or probe in probes)
    if host:
        html += str(data.get("snapshot", ""))
    return html


def register() -> None:
    """Called from `AppConfig.ready()`."""
    register_part(LivePart("health", _topic, lambda user, key: can_view(user), _render, everyone))
