"""Tell open pages that an incident changed. Called after commit; the pages re-render from the
database, so a lost message costs a reload, never the truth."""

from __future__ import annotations

from django.db import transaction

from apps.core.live import broadcast

BOARD_GROUP = "board"


def incident_group(incident_id: int) -> str:
    return f"incident.{incident_id}"


def announce_incident_changed(incident_id: int) -> None:
    """Once the current transaction commits, push the change to the board and the incident page."""
    transaction.on_commit(lambda: _send(incident_id))


def _send(incident_id: int) -> None:
    broadcast([incident_group(incident_id), BOARD_GROUP], {"type": "incident.changed", "incident_id": incident_id})
