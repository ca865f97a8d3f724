"""Tell open pages that an incident changed. Called after commit; the pages re-render from the
database, so a lost message costs a reload, never the truth."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

BOARD_GROUP = "board"


def incident_group(incident_id: int) -> str:
    return f"incident.{incident_id}"


def announce_incident_changed(incident_id: int) -> None:
    """Once the current transaction commits, push the change to the board and the incident page."""
    transaction.on_commit(lambda: _send(incident_id))


def _send(incident_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "incident.changed", "incident_id": incident_id}

    async def send_both() -> None:
        # One event loop (and one Redis connection) for both groups: each async_to_sync costs one.
        await layer.group_send(incident_group(incident_id), message)
        await layer.group_send(BOARD_GROUP, message)

    try:
        async_to_sync(send_both)()
    except Exception:
        # Redis down: the change is committed; open pages catch up on reload or reconnect.
        logger.warning("live update for incident %s not sent", incident_id, exc_info=True)
