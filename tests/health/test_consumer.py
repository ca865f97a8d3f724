"""The live health parts, through the whole ASGI stack (origin check, session auth, routing) and
the Redis channel layer: signed-in users only, and each page gets only what it shows."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from apps.accounts.models import User
from apps.core.consumers import BAD_REQUEST, NOT_ALLOWED
from apps.health import live, services
from apps.health.models import Host, Probe, SecuritySnapshot, State
from apps.health.probes import Reading
from tests.livesockets import TIMEOUT, Sockets, live_path, login, sockets

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
__all__ = ["sockets"]

STRIP = live_path("health:strip")


@pytest.fixture
async def session(responder: User) -> str:
    return await login(responder)


def _sample_round(host: Host) -> None:
    services.readings_record(
        host=host,
        readings=[
            Reading(Probe.CPU, State.OK, 12.0, f"12% of 2 cores on {host.name}"),
            Reading(Probe.MEMORY, State.WARNING, 88.0, f"88% of 4.0 GB on {host.name}"),
            Reading(Probe.POSTGRES, State.CRITICAL, summary="unreachable", error="connection refused"),
        ],
    )


async def _connected(sockets: Sockets, path: str, session: str) -> WebsocketCommunicator:
    communicator = sockets(path, session)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected, path
    return communicator


@pytest.fixture
def sampled(host: Host, other_host: Host) -> tuple[Host, Host]:
    _sample_round(host)
    _sample_round(other_host)
    return host, other_host


async def test_anonymous_sockets_are_refused(sockets: Sockets) -> None:
    for path in (STRIP, live_path("health:widgets"), live_path("health:widgets:web-1")):
        assert await sockets(path).connect(timeout=TIMEOUT) == (False, NOT_ALLOWED), path


async def test_a_socket_without_origin_is_refused(session: str, sockets: Sockets) -> None:
    connected, _ = await sockets(STRIP, session, origin=False).connect(timeout=TIMEOUT)

    assert connected is False


async def test_a_socket_asking_for_something_that_does_not_exist_is_refused(session: str, sockets: Sockets) -> None:
    for topic in ("health", "health:xyz", "health:strip:web-1", "health:widgets:*:nope", "health:widgets:*:cpu,nope",
                  "health:widgets:../x", "health:widgets:Web_1", "health:widgets:" + "a" * 64):  # fmt: skip
        assert await sockets(live_path(topic), session).connect(timeout=TIMEOUT) == (False, BAD_REQUEST), topic


async def test_the_strip_view_receives_the_board_strip(
    sampled: tuple[Host, Host], session: str, sockets: Sockets
) -> None:
    board = await _connected(sockets, STRIP, session)

    await database_sync_to_async(live.publish_host)(sampled[0])

    strip = await board.receive_from(timeout=TIMEOUT)
    assert strip.startswith('<div id="health-strip" hx-swap-oob="true">')
    assert 'data-host="web-1"' in strip
    assert 'data-host="web-2"' in strip
    assert "PostgreSQL critical on web-1" in strip
    assert 'id="widget-' not in strip


async def test_a_host_page_receives_its_hosts_widgets_and_no_others(
    sampled: tuple[Host, Host], session: str, sockets: Sockets
) -> None:
    web_1, web_2 = sampled
    page = await _connected(sockets, live_path("health:widgets:web-1"), session)

    await database_sync_to_async(live.publish_host)(web_2)
    await database_sync_to_async(live.publish_host)(web_1)

    # web-2's update went first; the page's first message is web-1's.
    widgets = await page.receive_from(timeout=TIMEOUT)
    assert 'id="widget-web-1-cpu"' in widgets
    assert "12% of 2 cores on web-1" in widgets
    assert 'id="widget-web-1-postgres"' in widgets
    assert "web-2" not in widgets
    assert 'id="health-strip"' not in widgets
    assert await page.receive_nothing(timeout=0.5)


async def test_a_page_of_every_host_receives_each_hosts_widgets(
    sampled: tuple[Host, Host], session: str, sockets: Sockets
) -> None:
    web_1, web_2 = sampled
    overview = await _connected(sockets, live_path("health:widgets"), session)

    await database_sync_to_async(live.publish_host)(web_1)
    await database_sync_to_async(live.publish_host)(web_2)

    assert 'id="widget-web-1-cpu"' in await overview.receive_from(timeout=TIMEOUT)
    assert 'id="widget-web-2-cpu"' in await overview.receive_from(timeout=TIMEOUT)


async def test_a_page_showing_some_probes_receives_only_those(
    sampled: tuple[Host, Host], session: str, sockets: Sockets
) -> None:
    web_1, _ = sampled
    panel = await _connected(sockets, live_path("health:widgets:*:cpu"), session)

    await database_sync_to_async(live.publish_host)(web_1)

    widgets = await panel.receive_from(timeout=TIMEOUT)
    assert 'id="widget-web-1-cpu"' in widgets
    assert "widget-web-1-memory" not in widgets
    assert "widget-web-1-postgres" not in widgets


async def test_a_snapshot_reaches_its_hosts_page(
    sampled: tuple[Host, Host], responder: User, session: str, sockets: Sockets
) -> None:
    web_1, web_2 = sampled
    page = await _connected(sockets, live_path("health:widgets:web-1"), session)

    def take(host: Host) -> None:
        snapshot = SecuritySnapshot.objects.create(
            host=host, kind=SecuritySnapshot.Kind.PORTS, requested_by=responder, status=SecuritySnapshot.Status.DONE,
            data={"ports": [{"proto": "tcp", "address": "127.0.0.1", "port": 443, "pid": 1, "process": "nginx"}]},
        )  # fmt: skip
        live.publish_snapshot(snapshot)

    await database_sync_to_async(take)(web_2)
    await database_sync_to_async(take)(web_1)

    html = await page.receive_from(timeout=TIMEOUT)
    assert html.startswith('<div id="snapshot-ports" class="snapshot" hx-swap-oob="true">')
    assert "<td>443</td>" in html
    assert await page.receive_nothing(timeout=0.5)


async def test_what_a_page_sends_but_refresh_is_ignored(
    sampled: tuple[Host, Host], session: str, sockets: Sockets
) -> None:
    page = await _connected(sockets, STRIP, session)

    await page.send_to(text_data='{"view": "widgets", "host": "web-2"}')
    # Catching up has nothing to send: the next sample arrives within seconds.
    await page.send_to(text_data="refresh")

    assert await page.receive_nothing(timeout=0.5)
    await database_sync_to_async(live.publish_host)(sampled[0])
    assert 'id="health-strip"' in await page.receive_from(timeout=TIMEOUT)


async def test_a_burst_of_pages_opening_at_once_all_connect_and_all_get_the_update(
    sampled: tuple[Host, Host], session: str, sockets: Sockets
) -> None:
    # More pages than redis-py's default pool of 100 connections join the group at the same time
    # (a team opening the dashboard during an outage); none may be refused.
    pages = [sockets(STRIP, session) for _ in range(150)]
    results = await asyncio.gather(*(page.connect(timeout=30) for page in pages))
    assert all(connected for connected, _ in results)

    await database_sync_to_async(live.publish_host)(sampled[0])

    received = await asyncio.gather(*(page.receive_from(timeout=30) for page in pages))
    assert all('id="health-strip"' in html for html in received)
