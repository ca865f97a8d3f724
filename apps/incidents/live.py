"""The board and an incident's page, live: a change of an incident publishes its topic and the
board's after commit; each open page re-renders its live pieces from the database for its
viewers, so a lost message costs a reload, never the truth."""

from __future__ import annotations

from typing import Any

from apps.accounts.permissions import can_view, role_of
from apps.core.live import LivePart, UnknownObject, fixed_topic, id_topic, per_person, publish, register_part
from apps.incidents.models import Incident

BOARD_TOPIC = "board"


def incident_topic(incident_id: int) -> str:
    return f"incident.{incident_id}"


def announce_incident_changed(incident_id: int) -> None:
    """Once the current transaction commits, tell the board and the incident's page."""
    publish(incident_topic(incident_id))
    publish(BOARD_TOPIC)


def _may_view_incident(user: Any, key: str) -> bool:
    if not can_view(user):
        return False
    if not Incident.objects.filter(pk=int(key)).exists():
        raise UnknownObject(key)
    return True


def _render_incident(key: str, user: Any, data: dict[str, Any] | None) -> str:
    # Imported here: the pages' forms import the services, which import this module.
    from apps.incidents import pages

    return pages.render_incident_live(int(key), user)


def _render_board(key: str, user: Any, data: dict[str, Any] | None) -> str:
    from apps.incidents import pages

    return pages.render_board_live(user)


def register() -> None:
    """Called from `AppConfig.ready()`."""
    # The page's controls follow the role, and its panels may follow the person too (the
    # communications panel offers its form to the incident's coordinator, whoever that is).
    register_part(LivePart("incident", id_topic("incident"), _may_view_incident, _render_incident, per_person))
    register_part(LivePart("board", fixed_topic(BOARD_TOPIC), lambda user, key: can_view(user), _render_board, role_of))
