"""The health fan-out as many open pages see it: the pages of a process share one subscription to
the group, a page that went away never stops the others, what a worker publishes through Redis
reaches pages joined through the channel layer, and a round reads its sparklines once a minute."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.core.live import broadcast, local_group, local_join, local_leave
from apps.health import live
from apps.health.models import Host, MinuteAggregate, Probe, State
from incidentcenter.asgi import application
from tests.health.conftest import record

ORIGIN = (b"origin", b"http://127.0.0.1")
TIMEOUT = 5


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _socket(path: str, session: str) -> WebsocketCommunicator:
    cookie = (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode())
    return WebsocketCommunicator(application, path, headers=[ORIGIN, cookie])


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_the_pages_of_a_process_share_one_subscription_and_release_it(host: Host, responder: User) -> None:
    session = await database_sync_to_async(_session_cookie)(responder)
    await database_sync_to_async(record)(host, Probe.CPU, State.OK, 12.0, "12% of 2 cores")
    pages = [_socket("/ws/health/?view=widgets&probes=cpu", session) for _ in range(20)]
    assert all(connected for connected, _ in await asyncio.gather(*(p.connect(timeout=TIMEOUT) for p in pages)))

    shared = local_group(live.HEALTH_GROUP)
    assert shared is not None
    assert shared.running
    assert len(shared.listeners) == 20
    # One channel of the layer in the group for all twenty pages.
    layer = get_channel_layer()
    assert layer is not None
    in_process = layer._get_layer()
    assert in_process.groups[in_process._get_group_channel_name(live.HEALTH_GROUP)] == {shared.channel}

    await database_sync_to_async(live.publish_host)(host)
    received = await asyncio.gather(*(p.receive_from(timeout=TIMEOUT) for p in pages))
    assert all('id="widget-web-1-cpu"' in html and "12% of 2 cores" in html for html in received)

    for page in pages[:-1]:
        await page.disconnect()
    assert shared.running
    await pages[-1].disconnect()
    assert not shared.running
    assert not shared.listeners
    assert in_process._get_group_channel_name(live.HEALTH_GROUP) not in in_process.groups


@pytest.mark.redis
async def test_a_listener_that_fails_does_not_stop_the_others() -> None:
    got: list[str] = []
    second_done = asyncio.Event()

    async def gone(message: dict[str, Any]) -> None:
        raise ConnectionResetError("the page went away")

    async def broken(message: dict[str, Any]) -> None:
        raise ValueError("a bug in one page's handler")

    async def fine(message: dict[str, Any]) -> None:
        got.append(message["text"])
        second_done.set()

    await local_join("fanout-test", "gone", gone)
    await local_join("fanout-test", "broken", broken)
    await local_join("fanout-test", "fine", fine)
    try:
        await database_sync_to_async(broadcast)(["fanout-test"], {"type": "x", "text": "hello"})
        await asyncio.wait_for(second_done.wait(), TIMEOUT)
        assert got == ["hello"]
    finally:
        for key in ("gone", "broken", "fine"):
            await local_leave("fanout-test", key)


@pytest.mark.redis
async def test_what_broadcast_publishes_reaches_a_channel_joined_through_the_layer() -> None:
    # broadcast() publishes straight to Redis, where the pub/sub layer listens for the group.
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    await layer.group_add("broadcast-test", channel)
    try:
        await database_sync_to_async(broadcast)(["broadcast-test", "other"], {"type": "t.x", "n": 1})
        assert await asyncio.wait_for(layer.receive(channel), TIMEOUT) == {"type": "t.x", "n": 1}
    finally:
        await layer.group_discard("broadcast-test", channel)


@pytest.mark.django_db
def test_a_round_reads_the_sparklines_once_a_minute(host: Host) -> None:
    with time_machine.travel(datetime(2026, 11, 26, 12, 0, 10, tzinfo=UTC), tick=False) as clock:
        record(host, Probe.CPU, State.OK, 10.0, "10%")
        MinuteAggregate.objects.create(
            host=host, probe=Probe.CPU, minute=datetime(2026, 11, 26, 11, 59, tzinfo=UTC), count=12,
            value_avg=30.0, value_min=20.0, value_max=40.0, worst_state=State.OK,
        )  # fmt: skip

        def aggregate_reads() -> int:
            with CaptureQueriesContext(connection) as captured:
                widgets = live.render_widgets(host, [Probe.CPU])
            assert "<polyline" in widgets[Probe.CPU]
            return sum(MinuteAggregate._meta.db_table in q["sql"] for q in captured)

        assert aggregate_reads() == 1
        clock.shift(30)
        assert aggregate_reads() == 0
        clock.shift(30)
        assert aggregate_reads() == 1
