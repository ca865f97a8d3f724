"""What health adds to the board (the hosts' strip and critical signals) and to the incident page
(the scenario's probes), through incidents' extensions; registered from `AppConfig.ready()`."""

from __future__ import annotations

from typing import Any

from apps.health import selectors
from apps.health.models import Host
from apps.incidents.extensions import BoardSection, Panel, register_board_section, register_panel


def register() -> None:
    register_board_section(BoardSection("health", "health/_board_section.html", _board, order=10))
    register_panel(Panel("health", "health/_incident_panel.html", _panel, order=10))


def _board(user: Any) -> dict[str, Any]:
    statuses = selectors.host_statuses()
    return {"statuses": statuses, "signals": selectors.critical_signals(statuses)}


def _panel(incident: Any, user: Any) -> dict[str, Any]:
    probes = selectors.SCENARIO_PROBES.get(incident.scenario, [])
    return {
        "scenario_label": incident.get_scenario_display(),
        "probes": probes,
        "widgets": selectors.widgets(list(Host.objects.all()), probes),
    }
