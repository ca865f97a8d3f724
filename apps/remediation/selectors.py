"""Read-only queries of remediation, each with a fixed number of queries whatever the rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from apps.remediation.models import ActionRun, Artifact

State = ActionRun.State


def runs_listed() -> QuerySet[ActionRun]:
    return ActionRun.objects.select_related("host", "incident", "requested_by", "approved_by")


def runs_for_incident(incident_id: int, limit: int = 20) -> list[ActionRun]:
    return list(runs_listed().filter(incident_id=incident_id)[:limit])


def runs_awaiting_approval() -> list[ActionRun]:
    return list(runs_listed().filter(state=State.AWAITING_APPROVAL).order_by("requested_at"))


def runs_with_revert_timer() -> list[ActionRun]:
    return list(runs_listed().filter(ActionRun.REVERT_PENDING).order_by("revert_due_at"))


def break_glass_recent(limit: int = 5) -> list[ActionRun]:
    return list(runs_listed().exclude(break_glass_reason="").filter(state__in=ActionRun.OPEN_STATES)[:limit])


@dataclass(frozen=True)
class MaintenanceState:
    host_name: str
    on: bool
    since: datetime | None
    by: str
    message: str
    run_id: int


def maintenance_states() -> list[MaintenanceState]:
    """Per host, the newest real (not dry) maintenance_mode run that succeeded says whether the
    maintenance page is up: one query, whatever the number of runs or hosts."""
    done = ActionRun.objects.filter(action="maintenance_mode", state=State.SUCCEEDED, dry_run=False)
    newest_of_host = done.filter(host=OuterRef("host")).order_by("-finished_at", "-pk").values("pk")[:1]
    runs = runs_listed().filter(pk__in=done.filter(pk=Subquery(newest_of_host)).values("pk"))
    newest = {run.host.name: run for run in runs}
    return [
        MaintenanceState(
            host_name=name,
            on=run.result.get("mode") == "on",
            since=run.finished_at,
            by=run.requested_by_name,
            message=str(run.result.get("message", "")),
            run_id=run.pk,
        )
        for name, run in sorted(newest.items())
    ]


def maintenance_on() -> list[MaintenanceState]:
    return [state for state in maintenance_states() if state.on]


def backups(host_id: int | None = None, kind: str = Artifact.Kind.BACKUP) -> QuerySet[Artifact]:
    rows = Artifact.objects.select_related("host", "run", "run__requested_by", "incident").filter(kind=kind)
    return rows.filter(host_id=host_id) if host_id else rows


def has_evidence(incident_id: int) -> bool:
    return Artifact.objects.filter(incident_id=incident_id, kind=Artifact.Kind.EVIDENCE).exists()


def board_context(user: Any) -> dict[str, Any]:
    return {
        "maintenance": maintenance_on(),
        "awaiting": runs_awaiting_approval(),
        "timers": runs_with_revert_timer(),
        "break_glass": break_glass_recent(),
    }
