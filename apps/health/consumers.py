"""Live health: one group for all samples; each connection forwards what its page shows.

Query string: `view=strip` (the board's host strip and signal banner) or `view=widgets`, with
optional `host=<name>` and `probes=a,b` to keep only those widgets.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import ValidationError

from apps.accounts.permissions import can_view
from apps.health.live import HEALTH_GROUP
from apps.health.models import Probe, host_name_validator

NOT_ALLOWED = 4403
BAD_REQUEST = 4400


def _valid_host_name(name: str) -> bool:
    try:
        host_name_validator(name)
    except ValidationError:
        return False
    return True


class HealthConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        if not can_view(self.scope.get("user")):
            await self.close(code=NOT_ALLOWED)
            return
        params = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.view = (params.get("view") or ["widgets"])[0]
        self.host = (params.get("host") or [""])[0]
        probes = [p for p in ",".join(params.get("probes") or []).split(",") if p]
        if (
            self.view not in ("strip", "widgets")
            or (self.host and not _valid_host_name(self.host))
            or any(p not in Probe.values for p in probes)
        ):
            await self.close(code=BAD_REQUEST)
            return
        self.probes = set(probes)
        await self.channel_layer.group_add(HEALTH_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(HEALTH_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Push only; whatever a page sends is ignored.
        return

    async def health_update(self, event: dict[str, Any]) -> None:
        if self.view == "strip":
            html = event.get("strip", "")
        else:
            if self.host and event.get("host") != self.host:
                return
            widgets = event.get("widgets", {})
            html = "".join(h for probe, h in widgets.items() if not self.probes or probe in self.probes)
            if self.host:
                html += event.get("snapshot", "")
        if html:
            await self.send(text_data=html)
