"""Push run changes to open pages: a run's page (its state and its log as lines arrive), the
actions list, and the incident page and board (through the incidents app's own announcement)."""

from __future__ import annotations

from django.db import transaction
from django.template.loader import render_to_string

from apps.core.live import broadcast
from apps.incidents.live import announce_incident_changed
from apps.remediation.models import ActionRun, RunLogLine

RUNS_GROUP = "action-runs"


def run_group(run_id: int) -> str:
    return f"action-run.{run_id}"


def announce_run_changed(run: ActionRun) -> None:
    """After commit: the run's page, the actions list and (if any) its incident re-render."""
    run_id, incident_id = run.pk, run.incident_id
    transaction.on_commit(lambda: broadcast([run_group(run_id), RUNS_GROUP], {"type": "run.changed", "run_id": run_id}))
    if incident_id is not None:
        announce_incident_changed(incident_id)
    else:
        from apps.incidents.live import BOARD_GROUP

        transaction.on_commit(lambda: broadcast([BOARD_GROUP], {"type": "incident.changed", "incident_id": 0}))


def publish_log_lines(run_id: int, lines: list[RunLogLine]) -> None:
    """New lines look the same to everyone: rendered once here, appended by every open page."""
    html = render_to_string("remediation/_log_lines.html", {"lines": lines, "run_id": run_id, "oob": True})
    transaction.on_commit(lambda: broadcast([run_group(run_id)], {"type": "run.log", "html": html}))
