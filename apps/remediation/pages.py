"""What a run's page shows, assembled once for the HTTP view and the websocket consumer, so a
live update and a reload render the same thing."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from django.template.loader import render_to_string
from django.urls import reverse

from apps.accounts.permissions import can_read_evidence, capabilities_for
from apps.remediation import catalog, rules, selectors
from apps.remediation.models import ActionRun, RunLogLine

SHOWN_LINES = 2000


def undo_link(run: ActionRun) -> str:
    """The form of this run's undo, pre-filled, or "" when there is none to offer."""
    if run.state != ActionRun.State.SUCCEEDED or run.dry_run:
        return ""
    try:
        undo = catalog.get(run.action).undo(run.params, run.result)
    except KeyError:
        return ""
    if undo is None:
        return ""
    action_key, params = undo
    query: dict[str, Any] = {f"p-{name}": value for name, value in params.items()}
    query.update({"host": run.host.name, "undoes": run.pk})
    if run.incident_id:
        query["incident"] = run.incident_id
    return f"{reverse('remediation:new', args=[action_key])}?{urlencode(query)}"


def run_context(run: ActionRun, user: Any) -> dict[str, Any]:
    try:
        action: catalog.RemediationAction | None = catalog.get(run.action)
    except KeyError:
        action = None
    may_read = can_read_evidence(user)
    total = RunLogLine.objects.filter(run=run).count() if may_read else 0
    lines = list(RunLogLine.objects.filter(run=run).order_by("seq")[max(0, total - SHOWN_LINES) :]) if may_read else []
    return {
        "run": run,
        "action": action,
        "describe": action.describe(run.params) if action else run.action,
        "lines": lines,
        "hidden_lines": max(0, total - SHOWN_LINES),
        # File names, hashes and results (user names, addresses, paths) are for the people who
        # handle the incident, as the files themselves are.
        "artifacts": list(run.artifacts.all()) if may_read else [],
        "show_result": may_read,
        "undo_url": undo_link(run),
        "undo_note": action.undo_note() if action and action.changes_state else "",
        # Who may decide, by role; whether the run can still move is the template's question to
        # `ActionRun.TRANSITIONS` (`run|can_become:…`). Callables: the template asks (and the
        # approval rule is read) only where the move is possible.
        "may_approve": partial(rules.may_approve, user, run),
        "may_cancel": partial(rules.may_cancel, user, run),
        "may_keep": partial(rules.may_keep, user, run),
        "can": capabilities_for(user),
        "user": user,
    }


def render_run_live(run_id: int, user: Any) -> str:
    run = selectors.runs_listed().get(pk=run_id)
    return render_to_string("remediation/run_detail.html#live", run_context(run, user))


def render_board_section(user: Any) -> str:
    return render_to_string("remediation/_board_section.html", {"section": selectors.board_context(user), "oob": True})
