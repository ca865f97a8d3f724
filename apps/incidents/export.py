"""An incident's timeline as data (JSON) and as a document (Markdown), from its typed events."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from apps.incidents import events, selectors
from apps.incidents.models import Incident


def _incident_dict(incident: Incident) -> dict[str, Any]:
    def at(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": incident.pk,
        "reference": incident.reference,
        "title": incident.title,
        "scenario": incident.scenario,
        "severity": incident.severity,
        "status": incident.status,
        "declared_at": at(incident.declared_at),
        "noticed_at": at(incident.noticed_at),
        "resolved_at": at(incident.resolved_at),
        "closed_at": at(incident.closed_at),
    }


def timeline_json(incident: Incident) -> dict[str, Any]:
    return {
        "incident": _incident_dict(incident),
        "events": [events.as_dict(event) for event in selectors.timeline_in_order(incident)],
    }


def _md_escape(text: str) -> str:
    # The text is plain words; keep Markdown from reading it as markup.
    return "".join("\\" + char if char in "\\`*_[]<>#|" else char for char in text)


def timeline_markdown(incident: Incident) -> str:
    lines = [
        f"# {incident.reference} {_md_escape(incident.title)}",
        "",
        f"- Scenario: {incident.get_scenario_display()}",
        f"- Severity: {incident.get_severity_display()}",
        f"- Status: {incident.get_status_display()}",
        f"- Declared: {incident.declared_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
    ]
    if incident.resolved_at:
        lines.append(f"- Resolved: {incident.resolved_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
    lines += ["", "## Timeline", "", "| Time (UTC) | Who | What |", "| --- | --- | --- |"]
    for event in selectors.timeline_in_order(incident):
        text = event.body.strip() if event.body else events.render(event)
        what = _md_escape(" ".join(text.split()))
        lines.append(f"| {event.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} | {_md_escape(event.actor_name)} | {what} |")
    return "\n".join(lines) + "\n"
