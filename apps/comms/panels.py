"""What comms adds to the board and the incident page (through incidents' extensions, called from
`AppConfig.ready()`): "communications overdue" on the board, and the updates panel on each
incident page."""

from __future__ import annotations

from typing import Any

from apps.comms import access, selectors
from apps.comms.models import PublicIncident, Update
from apps.comms.prefill import compose_form
from apps.incidents.extensions import Panel, register_attention, register_panel
from apps.incidents.models import Incident


def register() -> None:
    register_attention(selectors.attention)
    register_panel(Panel("comms", "comms/_incident_panel.html", panel_context, order=10))


def panel_context(incident: Incident, user: Any) -> dict[str, Any]:
    """The incident page's communications panel."""
    can_post = access.can_post_updates(user, incident)
    cadence = selectors.cadences([incident])[incident.pk]
    return {
        "incident": incident,
        "updates": selectors.incident_updates(incident),
        "cadence": cadence,
        "overdue": incident.is_active and cadence.overdue(),
        "can_post": can_post,
        "form": compose_form(incident) if can_post else None,
        "public_incident": PublicIncident.objects.filter(incident=incident).first(),
        "statuses": Update.Status.choices,
    }
