"""A run's page (its state, and each log line as it arrives) and the board's remediation section,
live. Incident pages follow through the timeline: every change of a run on an incident records
an event, which announces the incident."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from apps.accounts.permissions import can_read_evidence, can_view
from apps.core.live import LivePart, UnknownObject, everyone, fixed_topic, id_topic, per_person, publish, register_part
from apps.remediation.models import ActionRun, RunLogLine

RUNS_TOPIC = "runs"


def run_topic(run_id: int) -> str:
    return f"run.{run_id}"


def announce_run_changed(run: ActionRun) -> None:
    """After commit: the run's page and the board's remediation section re-render."""
    publish(run_topic(run.pk))
    publish(RUNS_TOPIC)


def publish_log_lines(run_id: int, lines: list[RunLogLine]) -> None:
    """New lines look the same to everyone who may read them: rendered once here, appended by
    every open page of the run after commit."""
    html = render_to_string("remediation/_log_lines.html", {"lines": lines, "run_id": run_id, "oob": True})
    publish(run_topic(run_id), {"log": html})


def _may_view_run(user: Any, key: str) -> bool:
    if not can_view(user):
        return False
    if not ActionRun.objects.filter(pk=int(key)).exists():
        raise UnknownObject(key)
    return True


def _render_run(key: str, user: Any, data: dict[str, Any] | None) -> str:
    from apps.remediation import pages

    if data and "log" in data:
        # Output may hold user names, addresses and paths: only for those who read evidence.
        return str(data["log"]) if can_read_evidence(user) else ""
    return pages.render_run_live(int(key), user)


def _render_section(key: str, user: Any, data: dict[str, Any] | None) -> str:
    from apps.remediation import pages

    return pages.render_board_section(user)


def register() -> None:
    """Called from `AppConfig.ready()`."""
    # Approving and cancelling follow who requested the run, not only the role.
    register_part(LivePart("run", id_topic("run"), _may_view_run, _render_run, per_person))
    register_part(
        LivePart("runs", fixed_topic(RUNS_TOPIC), lambda user, key: can_view(user), _render_section, everyone)
    )
