"""What remediation adds to the board and the incident page (through incidents' extensions)."""

from __future__ import annotations

from typing import Any

from apps.incidents.extensions import BoardSection, Panel, register_board_section, register_panel


def register() -> None:
    register_board_section(BoardSection("remediation", "remediation/_board_section.html", _board, order=5))
    register_panel(Panel("remediation", "remediation/_incident_panel.html", _panel, order=20))


def _board(user: Any) -> dict[str, Any]:
    from apps.remediation import selectors

    return selectors.board_context(user)


def _panel(incident: Any, user: Any) -> dict[str, Any]:
    from apps.remediation import rules, selectors

    return {
        "runs": selectors.runs_for_incident(incident.pk),
        "evidence_first": incident.scenario in rules.EVIDENCE_FIRST_SCENARIOS,
        "has_evidence": selectors.has_evidence(incident.pk),
    }
