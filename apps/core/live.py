"""Push a message to channel groups, where open pages listen. The database is the record: if
Redis is down the message is logged as lost and pages catch up on reload or reconnection."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def broadcast(groups: list[str], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        # One event loop (and one Redis connection) for every group: each async_to_sync costs one.
        for group in groups:
            await layer.group_send(group, message)

    try:
        async_to_sync(send_all)()
    except Exception:
        logger.warning("live update %s to %s not sent", message.get("type"), ", ".join(groups), exc_info=True)
