from typing import Any

from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "apps.health"
    verbose_name = "Health"

    def ready(self) -> None:
        from apps.incidents.extensions import BoardSection, Panel, register_board_section, register_panel

        register_board_section(BoardSection("health", "health/_board_section.html", _board_context, order=10))
        register_panel(Panel("health", "health/_incident_panel.html", _panel_context, order=10))


def _board_context(user: Any) -> dict[str, Any]:
    from apps.health import selectors

    statuses = selectors.host_statuses()
    return {"statuses": statuses, "signals": selectors.critical_signals(statuses)}


def _panel_context(incident: Any, user: Any) -> dict[str, Any]:
    from apps.health import selectors
    from apps.health.models import Host

    probes = selectors.SCENARIO_PROBES.get(incident.scenario, [])
    return {
        "scenario_label": incident.get_scenario_display(),
        "probes": probes,
        "widgets": selectors.widgets(list(Host.objects.all()), probes),
    }
