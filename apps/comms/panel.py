"""How comms attaches itself to the board and the incident page (called from `AppConfig.ready()`):
"communications overdue" on the board, and the updates panel on each incident page."""

from __future__ import annotations

from apps.comms import cadence, selectors
from apps.incidents.extensions import Panel, register_attention, register_panel


def register() -> None:
    register_attention(cadence.attention)
    register_panel(Panel(key="comms", template="comms/_incident_panel.html", context=selectors.panel_context, order=10))
