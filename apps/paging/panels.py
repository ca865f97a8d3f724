"""What paging adds to the board (what needs attention) and to the incident page (the paging
panel), through incidents' extensions; registered from `AppConfig.ready()`."""

from __future__ import annotations

from apps.incidents.extensions import Panel, register_attention, register_panel
from apps.paging import selectors


def register() -> None:
    register_attention(selectors.attention)
    register_panel(Panel("paging", "paging/_panel.html", selectors.panel_context, order=10))
