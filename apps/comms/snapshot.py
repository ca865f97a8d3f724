"""Everything the public sees, read in a fixed number of queries whatever the number of
incidents, components or updates: the status page, its JSON and its feed are drawn from this.

Only public rows are read here (components, public incidents, public updates, maintenance
windows): nothing internal can reach a public response through it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

from apps.comms.models import (
    IMPACT_OF_STATE,
    IMPACT_RANK,
    STATE_RANK,
    Component,
    ComponentOutage,
    ComponentState,
    Impact,
    MaintenanceWindow,
    PublicIncident,
    Update,
    UpdateComponent,
    worst_state,
)

STRIP_DAYS = 90
# incidents.json and scheduled-maintenances.json hold the 50 most recent, as Statuspage's do.
RECENT_LIMIT = 50
# The page lists incidents resolved this recently below the active ones.
PAST_DAYS = 14
# How much of an outage counts as downtime in the uptime figure (Statuspage's weighting).
DOWNTIME_WEIGHT = {ComponentState.MAJOR_OUTAGE: 1.0, ComponentState.PARTIAL_OUTAGE: 0.3}

State = ComponentState
MaintenanceStatus = MaintenanceWindow.Status


@dataclass
class Day:
    day: date
    state: str

    @property
    def label(self) -> str:
        return f"{self.day:%d %b %Y}: {State(self.state).label}"


@dataclass
class ComponentView:
    component: Component
    state: str
    changed_at: datetime
    days: list[Day]
    uptime: float

    @property
    def state_label(self) -> str:
        return State(self.state).label

    @property
    def issue_days(self) -> int:
        return sum(1 for day in self.days if day.state != State.OPERATIONAL)


@dataclass
class Affected:
    component: Component
    old_state: str
    new_state: str

    @property
    def new_label(self) -> str:
        return State(self.new_state).label


@dataclass
class UpdateView:
    update: Update
    affected: list[Affected]
    corrects_at: datetime | None = None


@dataclass
class IncidentView:
    incident: PublicIncident
    updates: list[UpdateView]  # newest first
    components: list[Component]


@dataclass
class MaintenanceView:
    window: MaintenanceWindow
    status: str
    components: list[Component]

    @property
    def status_label(self) -> str:
        return MaintenanceStatus(self.status).label


@dataclass
class Snapshot:
    now: datetime
    components: list[ComponentView]
    unresolved: list[IncidentView]
    recent: list[IncidentView]  # the 50 most recent, newest first, resolved or not
    maintenances: list[MaintenanceView]  # the 50 most recent by start, newest first
    indicator: str
    description: str
    updated_at: datetime
    valid_for: float  # seconds until the page changes by itself
    days: list[date] = field(default_factory=list)

    @property
    def past(self) -> list[IncidentView]:
        since = self.now - timedelta(days=PAST_DAYS)
        return [
            view
            for view in self.recent
            if view.incident.is_resolved and (view.incident.resolved_at or view.incident.updated_at) >= since
        ]

    @property
    def open_maintenances(self) -> list[MaintenanceView]:
        """Upcoming and in progress, soonest first (Statuspage's summary holds these)."""
        shown = [
            m for m in self.maintenances if m.status in {MaintenanceStatus.SCHEDULED, MaintenanceStatus.IN_PROGRESS}
        ]
        return sorted(shown, key=lambda m: m.window.starts_at)

    @property
    def state_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for view in self.components:
            counts[view.state] += 1
        return dict(counts)


def _day_start(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time.min, tzinfo=UTC)


def build(now: datetime | None = None) -> Snapshot:
    now = now or timezone.now()
    since = _day_start(now) - timedelta(days=STRIP_DAYS - 1)
    components = list(Component.objects.all())
    by_id = {c.pk: c for c in components}
    outages: dict[int, list[tuple[str, datetime, datetime | None]]] = defaultdict(list)
    rows = (
        ComponentOutage.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=since))
        .order_by()
        .values_list("component_id", "state", "started_at", "ended_at")
    )
    for component_id, state, started_at, ended_at in rows:
        outages[component_id].append((state, started_at, ended_at))
    incidents = _incident_views(by_id)
    maintenances, strip_windows = _maintenance_views(by_id, now, since)

    days = [(since + timedelta(days=i)).date() for i in range(STRIP_DAYS)]
    views = [
        _component_view(component, outages[component.pk], strip_windows, now, since, days) for component in components
    ]
    unresolved = [view for view in incidents if not view.incident.is_resolved]
    indicator, description = _indicator(views, unresolved)
    moments = [component.updated_at for component in components]
    moments += [view.changed_at for view in views]
    moments += [view.incident.updated_at for view in incidents]
    moments += [view.window.updated_at for view in maintenances]
    return Snapshot(
        now=now,
        components=views,
        unresolved=unresolved,
        recent=incidents[:RECENT_LIMIT],
        maintenances=maintenances,
        indicator=indicator,
        description=description,
        updated_at=max((m for m in moments if m <= now), default=now),
        valid_for=_valid_for(now, maintenances),
        days=days,
    )


def _incident_views(by_id: dict[int, Component], codes: list[str] | None = None) -> list[IncidentView]:
    """The unresolved public incidents and the 50 most recent (or those named by `codes`), newest
    first, each with its public updates: four queries."""
    if codes is None:
        unresolved = list(PublicIncident.objects.exclude(status=PublicIncident.Status.RESOLVED))
        recent = list(PublicIncident.objects.order_by("-created_at", "-pk")[:RECENT_LIMIT])
        merged = {incident.pk: incident for incident in [*unresolved, *recent]}
    else:
        merged = {incident.pk: incident for incident in PublicIncident.objects.filter(code__in=codes)}
    if not merged:
        return []
    updates = list(
        Update.objects.filter(public_incident_id__in=merged, audience=Update.Audience.PUBLIC).order_by(
            "-created_at", "-pk"
        )
    )
    affected: dict[int, list[Affected]] = defaultdict(list)
    rows = (
        UpdateComponent.objects.filter(update_id__in=[u.pk for u in updates])
        .order_by()
        .values_list("update_id", "component_id", "old_state", "new_state")
    )
    for update_id, component_id, old, new in rows:
        affected[update_id].append(Affected(by_id[component_id], old, new))
    update_times = {u.pk: u.created_at for u in updates}
    per_incident: dict[int, list[UpdateView]] = defaultdict(list)
    for update in updates:
        shown = sorted(affected[update.pk], key=lambda a: (a.component.position, a.component.name))
        corrects_at = update_times.get(update.corrects_id) if update.corrects_id else None
        per_incident[update.public_incident_id or 0].append(UpdateView(update, shown, corrects_at))
    views = []
    for incident in sorted(merged.values(), key=lambda i: (i.created_at, i.pk), reverse=True):
        updates_of = per_incident[incident.pk]
        named = {a.component.pk: a.component for view in updates_of for a in view.affected}
        ordered = sorted(named.values(), key=lambda c: (c.position, c.name))
        views.append(IncidentView(incident, updates_of, ordered))
    return views


def incident_view(code: str) -> IncidentView | None:
    """One public incident with its updates, for its own page."""
    by_id = {c.pk: c for c in Component.objects.all()}
    views = _incident_views(by_id, codes=[code])
    return views[0] if views else None


def _maintenance_views(
    by_id: dict[int, Component], now: datetime, since: datetime
) -> tuple[list[MaintenanceView], list[MaintenanceView]]:
    live = MaintenanceWindow.objects.filter(cancelled_at__isnull=True)
    recent = list(live.order_by("-starts_at", "-pk")[:RECENT_LIMIT])
    for_strip = list(live.filter(ends_at__gte=since, starts_at__lte=now))
    windows = {w.pk: w for w in [*recent, *for_strip]}
    links: dict[int, list[Component]] = defaultdict(list)
    if windows:
        through = MaintenanceWindow.components.through.objects.filter(maintenancewindow_id__in=windows)
        for window_id, component_id in through.values_list("maintenancewindow_id", "component_id"):
            links[window_id].append(by_id[component_id])

    def view(window: MaintenanceWindow) -> MaintenanceView:
        named = sorted(links[window.pk], key=lambda c: (c.position, c.name))
        return MaintenanceView(window, window.status_at(now), named)

    return [view(w) for w in recent], [view(w) for w in for_strip]


def _component_view(
    component: Component,
    mine: list[tuple[str, datetime, datetime | None]],
    windows: list[MaintenanceView],
    now: datetime,
    since: datetime,
    days: list[date],
) -> ComponentView:
    worked_on = [m.window for m in windows if component in m.components]
    current = [state for state, _start, end in mine if end is None]
    if any(w.starts_at <= now < w.ends_at for w in worked_on):
        current.append(State.UNDER_MAINTENANCE)
    ranks = [0] * len(days)

    def mark(state: str, start: datetime, end: datetime) -> None:
        first = max(start, since)
        last = min(end, now)
        if last < first:
            return
        for index in range((first - since).days, min((last - since).days, len(days) - 1) + 1):
            ranks[index] = max(ranks[index], STATE_RANK[state])

    for state, start, end in mine:
        mark(state, start, end or now)
    for window in worked_on:
        mark(State.UNDER_MAINTENANCE, window.starts_at, window.ends_at)
    by_rank = {rank: state for state, rank in STATE_RANK.items()}
    changes = [component.created_at]
    changes += [moment for _state, start, end in mine for moment in (start, end) if moment and moment <= now]
    changes += [moment for w in worked_on for moment in (w.starts_at, w.ends_at) if moment <= now]
    return ComponentView(
        component=component,
        state=worst_state(current),
        changed_at=max(changes),
        days=[Day(day, by_rank[rank]) for day, rank in zip(days, ranks, strict=True)],
        uptime=_uptime([(state, start, end or now) for state, start, end in mine], since, now),
    )


def _uptime(spans: list[tuple[str, datetime, datetime]], since: datetime, now: datetime) -> float:
    """Percent of the strip's time without downtime; overlapping outages count once, the worse
    one winning."""
    events: list[tuple[datetime, int, float]] = []
    for state, start, end in spans:
        weight = DOWNTIME_WEIGHT.get(State(state), 0.0)
        first, last = max(start, since), min(end, now)
        if weight and last > first:
            events += [(first, 1, weight), (last, -1, weight)]
    total = (now - since).total_seconds()
    if not events or total <= 0:
        return 100.0
    events.sort(key=lambda e: (e[0], e[1]))
    active: dict[float, int] = defaultdict(int)
    down = 0.0
    previous = events[0][0]
    for moment, step, weight in events:
        heaviest = max((w for w, n in active.items() if n > 0), default=0.0)
        down += heaviest * (moment - previous).total_seconds()
        active[weight] += step
        previous = moment
    return max(0.0, 100.0 * (1 - down / total))


def _indicator(components: list[ComponentView], unresolved: list[IncidentView]) -> tuple[str, str]:
    """Statuspage's page status: none, minor, major, critical (or maintenance) and its words."""
    worst = worst_state([view.state for view in components])
    impacts = [IMPACT_OF_STATE[State(worst)], *(Impact(view.incident.impact) for view in unresolved)]
    impact = max(impacts, key=IMPACT_RANK.__getitem__)
    if impact == Impact.NONE:
        if worst == State.UNDER_MAINTENANCE:
            return "maintenance", "Service Under Maintenance"
        return "none", "All Systems Operational"
    if impact == Impact.MINOR:
        words = "Partially Degraded Service" if worst == State.DEGRADED_PERFORMANCE else "Minor Service Outage"
        return "minor", words
    if impact == Impact.MAJOR:
        return "major", "Partial System Outage"
    return "critical", "Major System Outage"


def _valid_for(now: datetime, maintenances: list[MaintenanceView]) -> float:
    """Seconds until the page would change with nobody acting: a window starting or ending, or
    the strip moving on at midnight UTC."""
    moments = [_day_start(now) + timedelta(days=1)]
    moments += [moment for m in maintenances for moment in (m.window.starts_at, m.window.ends_at) if moment > now]
    return max(1.0, (min(moments) - now).total_seconds())
