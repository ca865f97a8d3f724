"""Live remediation: a run's page (its state and each log line as it arrives) and the board's
remediation section (maintenance mode, approvals waiting, revert timers, break glass)."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from apps.accounts.permissions import can_read_evidence
from apps.core.concurrency import in_worker_thread
from apps.incidents.consumers import NOT_ALLOWED, NOT_FOUND, _LiveConsumer
from apps.remediation import pages
from apps.remediation.live import RUNS_GROUP, run_group
from apps.remediation.models import ActionRun


class RunConsumer(_LiveConsumer):
    async def connect(self) -> None:
        if not await self._allowed():
            await self.close(code=NOT_ALLOWED)
            return
        self.run_id = int(self.scope["url_route"]["kwargs"]["pk"])
        if not await database_sync_to_async(ActionRun.objects.filter(pk=self.run_id).exists)():
            await self.close(code=NOT_FOUND)
            return
        self.group = run_group(self.run_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def run_changed(self, event: dict[str, Any]) -> None:
        await self.push()

    async def run_log(self, event: dict[str, Any]) -> None:
        # Rendered once where the lines were stored; the same for every viewer who may read it.
        if can_read_evidence(self.scope.get("user")):
            await self.send(text_data=str(event.get("html", "")))

    async def push(self) -> None:
        html = await in_worker_thread(pages.render_run_live)(self.run_id, self.scope["user"])
        await self.send(text_data=html)


class RunsBoardConsumer(_LiveConsumer):
    async def connect(self) -> None:
        if not await self._allowed():
            await self.close(code=NOT_ALLOWED)
            return
        self.group = RUNS_GROUP
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def run_changed(self, event: dict[str, Any]) -> None:
        await self.receive(text_data="refresh")

    async def push(self) -> None:
        html = await in_worker_thread(pages.render_board_section)(self.scope["user"])
        await self.send(text_data=html)
