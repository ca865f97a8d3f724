"""Live pages: each open board or incident page holds a websocket in one group per thing watched.

A change sends only the incident's id; each connection re-renders its page's live pieces from the
database for its own user (so controls follow that user's role) and sends HTML that htmx swaps in
by id.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.accounts.permissions import can_view
from apps.core.concurrency import in_worker_thread
from apps.incidents import pages
from apps.incidents.live import BOARD_GROUP, incident_group
from apps.incidents.models import Incident

# Close codes in the private range: 4403 = not allowed, 4404 = no such incident.
NOT_ALLOWED = 4403
NOT_FOUND = 4404


# A page asks for a fresh render ("refresh") after it set aside a push that arrived while its
# own request was in flight. At most one render per interval: a refresh asked sooner is served
# when the interval ends, and the ones asked meanwhile are folded into it (never dropped, since
# that render is taken after them).
REFRESH_INTERVAL_SECONDS = 0.5


class _LiveConsumer(AsyncWebsocketConsumer):
    group: str = ""
    last_refresh = 0.0
    pending_refresh: asyncio.Task[None] | None = None

    async def _allowed(self) -> bool:
        return can_view(self.scope.get("user"))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The only message a page may send is "refresh"; anything else is ignored, not trusted.
        if text_data != "refresh" or self.pending_refresh is not None:
            return
        wait = self.last_refresh + REFRESH_INTERVAL_SECONDS - time.monotonic()
        if wait <= 0:
            await self._refresh_now()
        else:
            self.pending_refresh = asyncio.create_task(self._refresh_later(wait))

    async def _refresh_later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self.pending_refresh = None
        await self._refresh_now()

    async def _refresh_now(self) -> None:
        self.last_refresh = time.monotonic()
        await self.push()

    async def incident_changed(self, event: dict[str, Any]) -> None:
        await self.push()

    async def push(self) -> None:
        raise NotImplementedError

    async def disconnect(self, code: int) -> None:
        if self.pending_refresh is not None:
            self.pending_refresh.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)


class BoardConsumer(_LiveConsumer):
    async def connect(self) -> None:
        if not await self._allowed():
            await self.close(code=NOT_ALLOWED)
            return
        self.group = BOARD_GROUP
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def push(self) -> None:
        html = await in_worker_thread(pages.render_board_live)(self.scope["user"])
        await self.send(text_data=html)


class IncidentConsumer(_LiveConsumer):
    async def connect(self) -> None:
        if not await self._allowed():
            await self.close(code=NOT_ALLOWED)
            return
        self.incident_id = int(self.scope["url_route"]["kwargs"]["pk"])
        if not await database_sync_to_async(Incident.objects.filter(pk=self.incident_id).exists)():
            await self.close(code=NOT_FOUND)
            return
        self.group = incident_group(self.incident_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def push(self) -> None:
        html = await in_worker_thread(pages.render_incident_live)(self.incident_id, self.scope["user"])
        await self.send(text_data=html)
