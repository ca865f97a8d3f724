"""The fan-out as many open pages see it: the sockets of a process share one subscription to the
layer and one render per view, a slow or broken socket never holds up the others, what a worker
publishes through Redis reaches sockets joined through the channel layer, and a health round reads
its sparklines once a minute."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.core.consumers import LiveConsumer, hub
from apps.core.live import MESSAGE_TYPE, LivePart, fixed_topic, publish
from apps.health import live
from apps.health.models import Host, MinuteAggregate, Probe, State
from tests.health.conftest import record
from tests.livesockets import TIMEOUT, live_path, login, socket


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_the_sockets_of_a_process_share_one_subscription_and_release_it(host: Host, responder: User) -> None:
    session = await login(responder)
    await database_sync_to_async(record)(host, Probe.CPU, State.OK, 12.0, "12% of 2 cores")
    pages = [socket(live_path("health:widgets:*:cpu"), session) for _ in range(20)]
    assert all(connected for connected, _ in await asyncio.gather(*(p.connect(timeout=TIMEOUT) for p in pages)))

    shared = hub()
    assert shared is not None
    assert shared.running
    (view,) = shared.topics[live.HEALTH_TOPIC]
    assert len(view.sockets) == 20
    # One channel of the layer in the group for all twenty sockets.
    layer = get_channel_layer()
    assert layer is not None
    in_process = layer._get_layer()
    assert in_process.groups[in_process._get_group_channel_name(live.HEALTH_TOPIC)] == {shared.channel}

    await database_sync_to_async(live.publish_host)(host)
    received = await asyncio.gather(*(p.receive_from(timeout=TIMEOUT) for p in pages))
    assert all('id="widget-web-1-cpu"' in html and "12% of 2 cores" in html for html in received)

    for page in pages[:-1]:
        await page.disconnect()
    assert shared.running
    await pages[-1].disconnect()
    assert not shared.running
    assert not shared.topics
    assert not shared.views
    assert in_process._get_group_channel_name(live.HEALTH_TOPIC) not in in_process.groups


class _Browser:
    """An accepted socket's ASGI side: `send` either records the message or blocks until let go."""

    def __init__(self, *, stalled: bool = False, broken: bool = False) -> None:
        self.sent: list[str] = []
        self.arrived = asyncio.Event()
        self.go = asyncio.Event()
        if not stalled:
            self.go.set()
        self.broken = broken

    async def send(self, message: dict[str, Any]) -> None:
        if self.broken:
            raise ConnectionResetError("the page went away")
        await self.go.wait()
        self.sent.append(message["text"])
        self.arrived.set()

    def socket(self) -> LiveConsumer:
        consumer = LiveConsumer()
        consumer.base_send = self.send
        consumer.accepted = True
        return consumer


def _echo(key: str, user: Any, data: dict[str, Any] | None) -> str:
    return f"<p>{(data or {}).get('n')}</p>"


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_a_stalled_or_broken_socket_holds_up_no_other() -> None:
    part = LivePart("fanouttest", fixed_topic("fanout-test"), lambda user, key: True, _echo)
    stalled, broken, fine = _Browser(stalled=True), _Browser(broken=True), _Browser()
    shared = hub()
    assert shared is not None
    sockets = [stalled.socket(), broken.socket(), fine.socket()]
    views = [await shared.join(s, part, "", None, None) for s in sockets]
    try:
        for n in (1, 2):
            await database_sync_to_async(publish)("fanout-test", {"n": n})
            await asyncio.wait_for(fine.arrived.wait(), TIMEOUT)
            fine.arrived.clear()
        assert fine.sent == ["<p>1</p>", "<p>2</p>"]
        assert stalled.sent == []

        # Once the stalled browser reads again, it gets everything, in order.
        stalled.go.set()
        await asyncio.wait_for(stalled.arrived.wait(), TIMEOUT)
        while len(stalled.sent) < 2:
            stalled.arrived.clear()
            await asyncio.wait_for(stalled.arrived.wait(), TIMEOUT)
        assert stalled.sent == ["<p>1</p>", "<p>2</p>"]
    finally:
        for s, view in zip(sockets, views, strict=True):
            await shared.leave(s, view)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_what_publish_sends_reaches_a_channel_joined_through_the_layer() -> None:
    # publish() sends one PUBLISH straight to Redis, where the pub/sub layer listens for the group.
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    await layer.group_add("publish-test", channel)
    try:
        await database_sync_to_async(publish)("publish-test", {"n": 1})
        message = await asyncio.wait_for(layer.receive(channel), TIMEOUT)
        assert message == {"type": MESSAGE_TYPE, "topic": "publish-test", "id": message["id"], "data": {"n": 1}}
        assert len(message["id"]) == 32
    finally:
        await layer.group_discard("publish-test", channel)


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
