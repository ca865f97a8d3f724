"""The words of the events remediation records, rendered when read (never a query).

Every kind references its run (`run`, loaded with the event with its host): the action, host,
parameters and dry run come from the run, the values of that moment from `data`:
- `run_requested`: `awaiting_approval`.
- `break_glass`, `evidence_overridden`: `reason`.
- `run_approved`, `run_kept`, `run_started` (the worker), `revert_superseded` (the sweeper): none.
- `run_rejected`, `run_cancelled`: `note` (may be empty for a cancel).
- `run_finished` (the worker): `state`, `summary`; optionally `exit_status`, `verified`,
  `revert_minutes` (a revert timer started), and `after_lost` for a run the sweeper had called
  lost that finished after all (it stays lost).
- `run_lost` (the sweeper): `summary`.
- `revert_started` (the sweeper): `reverts`, the id of the run whose change the referenced run
  (the undo) reverts.
"""

from __future__ import annotations

from django.urls import reverse

from apps.incidents.events import label_of, register_link, renders
from apps.incidents.models import EventKind, TimelineEvent
from apps.remediation import catalog
from apps.remediation.models import ActionRun

RUN_KINDS = (
    EventKind.RUN_REQUESTED,
    EventKind.BREAK_GLASS,
    EventKind.EVIDENCE_OVERRIDDEN,
    EventKind.RUN_APPROVED,
    EventKind.RUN_REJECTED,
    EventKind.RUN_CANCELLED,
    EventKind.RUN_KEPT,
    EventKind.RUN_STARTED,
    EventKind.RUN_FINISHED,
    EventKind.RUN_LOST,
    EventKind.REVERT_SUPERSEDED,
    EventKind.REVERT_STARTED,
)


def describe_run(run: ActionRun) -> str:
    """What the run does, where: "Dry run of Maintenance mode off on web-1 (run #12)"."""
    try:
        text = catalog.get(run.action).describe(run.params)
    except KeyError:
        text = f"unknown action {run.action!r}"
    return f"{'Dry run of ' if run.dry_run else ''}{text} on {run.host.name} (run #{run.pk})"


def _what(event: TimelineEvent) -> str:
    return describe_run(event.run) if event.run is not None else "an action run"


@renders(*RUN_KINDS, related=("run__host",))
def run_event(event: TimelineEvent) -> str:
    d = event.data
    match event.kind:
        case EventKind.RUN_REQUESTED:
            return f"Requested{' (awaiting approval)' if d.get('awaiting_approval') else ''}: {_what(event)}"
        case EventKind.BREAK_GLASS:
            return f"BREAK GLASS — ran without approval: {_what(event)}. Reason: {d.get('reason', '')}"
        case EventKind.EVIDENCE_OVERRIDDEN:
            return f"Evidence-first overridden for run #{event.run_id}: {d.get('reason', '')}"
        case EventKind.RUN_APPROVED:
            return f"Approved: {_what(event)}"
        case EventKind.RUN_REJECTED:
            return f"Rejected: {_what(event)} — {d.get('note', '')}"
        case EventKind.RUN_CANCELLED:
            return f"Cancelled: {_what(event)}" + (f" — {d['note']}" if d.get("note") else "")
        case EventKind.RUN_KEPT:
            return f"Kept (revert timer stopped): {_what(event)}"
        case EventKind.RUN_STARTED:
            return f"Started: {_what(event)}"
        case EventKind.RUN_FINISHED:
            return _finished(event)
        case EventKind.RUN_LOST:
            return f"Lost: {_what(event)} — {d.get('summary', '')}"
        case EventKind.REVERT_SUPERSEDED:
            return f"Revert timer of run #{event.run_id} stopped: a later change replaced it."
        case EventKind.REVERT_STARTED:
            return f"Revert timer ran out: {_what(event)}"
    return event.get_kind_display()


def _finished(event: TimelineEvent) -> str:
    d = event.data
    if d.get("after_lost"):
        return f"Run #{event.run_id}, called lost, finished after all: {d.get('state', '')} — {d.get('summary', '')}"
    text = f"{label_of(ActionRun.State, d.get('state', ''))}: {_what(event)} — {d.get('summary', '')}"
    if d.get("revert_minutes"):
        text += f" (reverts by itself in {d['revert_minutes']} min unless kept)"
    return text


register_link("run", lambda e: (f"run #{e.run_id}", reverse("remediation:run", args=[e.run_id])))
