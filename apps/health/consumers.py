"""Live health: one group for all samples; each connection forwards what its page shows.

Every page watches the same group, often hundreds at once during an outage, so the pages of a
process share one subscription to it (`apps.core.live.local_join`) and each message is handed to
them in one pass, instead of a channel, a task wake-up and a thread hop per page and sample.

Query string: `view=strip` (the board's host strip and signal banner) or `view=widgets`, with
optional `host=<name>` and `probes=a,b` to keep only those widgets.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import ValidationError

from apps.accounts.permissions import can_view
from apps.core.live import local_join, local_leave
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
    # An alias with no layer behind it, so Channels gives the page no channel of its own:
    # updates come through the process's shared subscription.
    channel_layer_alias = "health.none"
    joined = False
    accepted = False

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
        # Joined before the accept, so nothing sent once the page is connected is missed; an
        # update that lands in between is dropped (the page was rendered a moment ago).
        await local_join(HEALTH_GROUP, self, self.health_update)
        self.joined = True
        await self.accept()
        self.accepted = True

    async def disconnect(self, code: int) -> None:
        if self.joined:
            self.joined = False
            await local_leave(HEALTH_GROUP, self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Push only; whatever a page sends is ignored.
        return

    async def health_update(self, event: dict[str, Any]) -> None:
        if not self.accepted:
            return
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
