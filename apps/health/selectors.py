"""Reads for the health widgets: latest readings, sparklines, charts, host status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.utils import timezone

from apps.health.models import STATE_RANK, Host, MinuteAggregate, Probe, Sample, SecuritySnapshot, State
from apps.health.probes import periodic_probes

# A host is unreachable when its newest sample is older than this many sampling intervals.
STALE_INTERVALS = 3
SPARKLINE_POINTS = 60

# The widgets an incident of each scenario shows first.
SCENARIO_PROBES: dict[str, list[str]] = {
    "database_failure": [Probe.POSTGRES, Probe.DISK, Probe.MEMORY, Probe.CPU, Probe.SERVICES, Probe.BACKUPS],
    "data_corruption": [Probe.POSTGRES, Probe.BACKUPS, Probe.DISK, Probe.SERVICES],
    "system_outage": [Probe.WEBSITE, Probe.SERVICES, Probe.CPU, Probe.MEMORY, Probe.DISK, Probe.LOAD],
    "security_breach": [Probe.PROCESSES, Probe.SERVICES, Probe.WEBSITE, Probe.CPU],
    "website_defacement": [Probe.WEBSITE, Probe.SERVICES, Probe.BACKUPS],
}


@dataclass
class Widget:
    host: Host
    probe: str
    sample: Sample | None
    points: list[float] = field(default_factory=list)
    now: datetime = field(default_factory=timezone.now)

    @property
    def dom_id(self) -> str:
        return f"widget-{self.host.name}-{self.probe}"

    @property
    def label(self) -> str:
        return Probe(self.probe).label

    @property
    def stale_after_seconds(self) -> int:
        return settings.HEALTH_SAMPLE_SECONDS * STALE_INTERVALS

    # Cached: the widget template reads each of these several times, on every host every round.
    @cached_property
    def is_stale(self) -> bool:
        if self.sample is None:
            return True
        return (self.now - self.sample.taken_at).total_seconds() > self.stale_after_seconds

    @cached_property
    def state(self) -> str:
        if self.sample is None:
            return "nodata"
        return "stale" if self.is_stale else self.sample.state

    @cached_property
    def sparkline(self) -> str:
        return sparkline_points(self.points)


def sparkline_points(values: Sequence[float], width: int = 120, height: int = 28) -> str:
    """An SVG polyline `points` attribute for the values, scaled to the box."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    return " ".join(f"{i * step:.1f},{height - (v - low) / span * (height - 2) - 1:.1f}" for i, v in enumerate(values))


def latest_samples(hosts: Iterable[Host], probes: Iterable[str] | None = None) -> dict[tuple[int, str], Sample]:
    """The newest sample of each (host, probe), in one query whatever the number of hosts: one
    `ORDER BY taken_at DESC LIMIT 1` per pair, each answered by the (host, probe, -taken_at)
    index instead of scanning a day of rows. Written as SQL because building the same query
    through the ORM cost more CPU than running it, every few seconds on every host."""
    host_ids = [h.pk for h in hosts]
    wanted = list(probes) if probes is not None else list(Probe.values)
    if not host_ids or not wanted:
        return {}
    table = Sample._meta.db_table
    # The table name comes from the model; every value is a parameter.
    one = (
        f"SELECT * FROM (SELECT * FROM {table} WHERE host_id = %s AND probe = %s "  # noqa: S608
        "ORDER BY taken_at DESC LIMIT 1) AS newest"
    )
    pairs = [(host_id, probe) for host_id in host_ids for probe in wanted]
    sql = " UNION ALL ".join([one] * len(pairs))
    params = [value for pair in pairs for value in pair]
    return {(s.host_id, s.probe): s for s in Sample.objects.raw(sql, params)}


def recent_values(
    hosts: Iterable[Host], probes: Iterable[str], since: timedelta = timedelta(hours=1)
) -> dict[tuple[int, str], list[float]]:
    """The last hour's values per (host, probe), at most SPARKLINE_POINTS: the folded minutes,
    then the raw samples newer than the last folded minute (a few dozen rows, not 720)."""
    host_ids, wanted = [h.pk for h in hosts], list(probes)
    start = timezone.now() - since
    series: dict[tuple[int, str], list[float]] = {}
    cutoff = start
    minutes = (
        MinuteAggregate.objects.filter(host_id__in=host_ids, probe__in=wanted, minute__gte=start)
        .order_by("minute")
        .values_list("host_id", "probe", "minute", "value_avg")
    )
    for host_id, probe, minute, value in minutes:
        if value is not None:
            series.setdefault((host_id, probe), []).append(value)
        cutoff = max(cutoff, minute + timedelta(minutes=1))
    raw = (
        Sample.objects.filter(host_id__in=host_ids, probe__in=wanted, taken_at__gte=cutoff)
        .order_by("taken_at")
        .values_list("host_id", "probe", "value")
    )
    for host_id, probe, value in raw:
        if value is not None:
            series.setdefault((host_id, probe), []).append(value)
    return {key: _thin(values, SPARKLINE_POINTS) for key, values in series.items()}


def _thin(values: list[float], limit: int) -> list[float]:
    if len(values) <= limit:
        return values
    step = len(values) / limit
    return [values[int(i * step)] for i in range(limit)]


def widgets(
    hosts: Sequence[Host],
    probes: Sequence[str] | None = None,
    *,
    latest: dict[tuple[int, str], Sample] | None = None,
    series: dict[tuple[int, str], list[float]] | None = None,
) -> list[Widget]:
    """The widgets of these hosts; `latest` and `series` spare their queries when the caller
    has them already (a worker's round reads the newest samples once for widgets and strip)."""
    probes = list(probes) if probes is not None else list(periodic_probes())
    latest = latest if latest is not None else latest_samples(hosts, probes)
    series = series if series is not None else recent_values(hosts, probes)
    now = timezone.now()
    return [
        Widget(host, probe, latest.get((host.pk, probe)), series.get((host.pk, probe), []), now)
        for host in hosts
        for probe in probes
    ]


@dataclass
class HostStatus:
    host: Host
    worst: str
    last_seen: datetime | None
    reachable: bool
    latest: dict[str, Sample]
    now: datetime = field(default_factory=timezone.now)

    @property
    def stale_after_seconds(self) -> int:
        return settings.HEALTH_SAMPLE_SECONDS * STALE_INTERVALS

    @property
    def state(self) -> str:
        if self.last_seen is None:
            return "nodata"
        return self.worst if self.reachable else "unreachable"

    @property
    def headline(self) -> list[Sample]:
        return [self.latest[p] for p in STRIP_PROBES if p in self.latest]


STRIP_PROBES = (Probe.CPU, Probe.MEMORY, Probe.DISK, Probe.POSTGRES, Probe.WEBSITE)


def host_statuses(
    hosts: Sequence[Host] | None = None, *, latest: dict[tuple[int, str], Sample] | None = None
) -> list[HostStatus]:
    hosts = list(hosts) if hosts is not None else list(Host.objects.all())
    latest = latest if latest is not None else latest_samples(hosts)
    now = timezone.now()
    statuses = []
    for host in hosts:
        mine = {probe: s for (host_id, probe), s in latest.items() if host_id == host.pk}
        last_seen = max((s.taken_at for s in mine.values()), default=None)
        stale_after = settings.HEALTH_SAMPLE_SECONDS * STALE_INTERVALS
        reachable = last_seen is not None and (now - last_seen).total_seconds() <= stale_after
        worst = max((s.state for s in mine.values()), key=lambda st: STATE_RANK[State(st)], default=State.UNKNOWN)
        statuses.append(HostStatus(host, worst, last_seen, reachable, mine, now))
    return statuses


@dataclass
class Signal:
    """A probe in the critical state, and what to do about it."""

    host: Host
    sample: Sample
    scenario: str
    open_incident_id: int | None = None
    open_incident_reference: str = ""


# Which emergency a critical probe points at.
SIGNAL_SCENARIOS = {
    Probe.POSTGRES: "database_failure",
    Probe.WEBSITE: "system_outage",
    Probe.DISK: "system_outage",
    Probe.SERVICES: "system_outage",
    Probe.MEMORY: "system_outage",
    Probe.BACKUPS: "data_corruption",
}


def signal_scenario(sample: Sample) -> str | None:
    if sample.probe == Probe.WEBSITE and sample.data.get("changed"):
        return "website_defacement"
    return SIGNAL_SCENARIOS.get(Probe(sample.probe))


def critical_signals(statuses: Sequence[HostStatus] | None = None) -> list[Signal]:
    """Fresh critical readings, each with its scenario and the open incident of that scenario."""
    from apps.incidents.models import Incident

    statuses = statuses if statuses is not None else host_statuses()
    candidates = []
    for status in statuses:
        if not status.reachable:
            continue
        for sample in status.latest.values():
            scenario = signal_scenario(sample)
            if sample.state == State.CRITICAL and scenario:
                candidates.append(Signal(status.host, sample, scenario))
    if candidates:
        open_by_scenario: dict[str, Incident] = {}
        for incident in Incident.objects.filter(status__in=Incident.ACTIVE_STATUSES).order_by("declared_at"):
            open_by_scenario.setdefault(incident.scenario, incident)
        for signal in candidates:
            match = open_by_scenario.get(signal.scenario)
            if match is not None:
                signal.open_incident_id = match.pk
                signal.open_incident_reference = match.reference
    return candidates


@dataclass
class Chart:
    label: str
    points: str
    low: float | None
    high: float | None
    count: int


CHART_WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


def chart(host: Host, probe: str, window: str) -> Chart:
    """A probe's values over 1 h (raw samples) or 24 h / 7 d (minute aggregates)."""
    since = timezone.now() - CHART_WINDOWS[window]
    if window == "1h":
        raw = Sample.objects.filter(host=host, probe=probe, taken_at__gte=since).order_by("taken_at")
        found = list(raw.values_list("value", flat=True))
    else:
        minutes = MinuteAggregate.objects.filter(host=host, probe=probe, minute__gte=since).order_by("minute")
        found = list(minutes.values_list("value_avg", flat=True))
    values = [v for v in found if v is not None]
    thinned = _thin(values, 240)
    return Chart(
        label=window,
        points=sparkline_points(thinned, width=480, height=80),
        low=min(values) if values else None,
        high=max(values) if values else None,
        count=len(values),
    )


def latest_snapshots(host: Host) -> dict[str, SecuritySnapshot]:
    snapshots: dict[str, SecuritySnapshot] = {}
    for snapshot in SecuritySnapshot.objects.filter(host=host).select_related("requested_by")[:30]:
        snapshots.setdefault(snapshot.kind, snapshot)
    return snapshots
