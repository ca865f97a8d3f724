"""Push run changes to open pages: a run's page (its state and its log as lines arrive) and the
board's remediation section. Incident pages follow through the timeline's own announcement."""

from __future__ import annotations

from django.db import transaction
from django.template.loader import render_to_string

from apps.core.live import broadcast
from apps.remediation.models import ActionRun, RunLogLine

RUNS_GROUP = "action-runs"


def run_group(run_id: int) -> str:
    return f"action-run.{run_id}"


def announce_run_changed(run: ActionRun) -> None:
    """After commit: the run's page and the board's remediation section re-render. The incident's
    page follows from the timeline entry every change of a run on an incident writes
    (`timeline_record` announces it); the board's incident list shows nothing of runs."""
    run_id = run.pk
    transaction.on_commit(lambda: broadcast([run_group(run_id), RUNS_GROUP], {"type": "run.changed", "run_id": run_id}))


def publish_log_lines(run_id: int, lines: list[RunLogLine]) -> None:
    """New lines look the same to everyone: rendered once here, appended by every open page."""
    html = render_to_string("remediation/_log_lines.html", {"lines": lines, "run_id": run_id, "oob": True})
    transaction.on_commit(lambda: broadcast([run_group(run_id)], {"type": "run.log", "html": html}))
