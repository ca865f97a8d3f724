"""The live board and incident page, through the whole ASGI stack (origin check, session auth,
routing) and the Redis channel layer, as a browser reaches them."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.test import override_settings

from apps.accounts.models import User
from apps.core.consumers import BAD_REQUEST, NOT_ALLOWED, NOT_FOUND, REFRESH_INTERVAL_SECONDS
from apps.incidents import services
from apps.incidents.models import ChecklistItem, Incident
from incidentcenter.asgi import application
from tests.factories import declare_incident
from tests.livesockets import TIMEOUT, Sockets, live_path, login, sockets

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
__all__ = ["sockets"]

BOARD = live_path("board")


def _page(incident: Incident) -> str:
    return live_path(f"incident.{incident.pk}")


@pytest.fixture(autouse=True)
def fast_password_hashing() -> Iterator[None]:
    # The users' passwords play no part here, and the default hasher costs a second per user.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def incident(procedures: object, responder: User) -> Incident:
    return declare_incident(responder, title="Primary database down")


def _first_pending_item(incident: Incident) -> ChecklistItem:
    return incident.checklist.filter(state=ChecklistItem.State.PENDING).order_by("position").first()  # type: ignore[attr-defined]


async def _tick(incident: Incident, user: User) -> ChecklistItem:
    item = await database_sync_to_async(_first_pending_item)(incident)
    await database_sync_to_async(services.checklist_item_set_state)(
        incident_id=incident.pk,
        item_id=item.pk,
        user=user,
        state=ChecklistItem.State.DONE,
        from_state=ChecklistItem.State.PENDING,
    )
    return item


def test_the_channel_layer_is_redis_when_redis_url_is_set() -> None:
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert isinstance(get_channel_layer(), RedisPubSubChannelLayer)


async def test_anonymous_sockets_are_refused(incident: Incident, sockets: Sockets) -> None:
    for path in (BOARD, _page(incident)):
        connected, code = await sockets(path).connect(timeout=TIMEOUT)
        assert (connected, code) == (False, NOT_ALLOWED), path


async def test_a_socket_without_origin_is_refused(incident: Incident, responder: User, sockets: Sockets) -> None:
    session = await login(responder)
    for path in (BOARD, _page(incident)):
        connected, _ = await sockets(path, session, origin=False).connect(timeout=TIMEOUT)
        assert connected is False, path


async def test_a_socket_from_a_foreign_origin_is_refused(incident: Incident, responder: User, sockets: Sockets) -> None:
    session = await login(responder)
    communicator = WebsocketCommunicator(
        application,
        _page(incident),
        headers=[
            (b"origin", b"http://evil.example.com"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()),
        ],
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected is False
    await communicator.disconnect()


async def test_an_unknown_session_is_refused(incident: Incident, sockets: Sockets) -> None:
    connected, code = await sockets(_page(incident), "not-a-session").connect(timeout=TIMEOUT)
    assert (connected, code) == (False, NOT_ALLOWED)


async def test_manager_is_accepted_read_only_role(incident: Incident, manager: User, sockets: Sockets) -> None:
    session = await login(manager)
    for path in (BOARD, _page(incident)):
        connected, _ = await sockets(path, session).connect(timeout=TIMEOUT)
        assert connected is True, path


async def test_an_unknown_incident_is_closed_with_4404(incident: Incident, responder: User, sockets: Sockets) -> None:
    session = await login(responder)
    connected, code = await sockets(live_path(f"incident.{incident.pk + 1000}"), session).connect(timeout=TIMEOUT)
    assert (connected, code) == (False, NOT_FOUND)


async def test_a_checklist_tick_reaches_the_incident_page_and_the_board(
    incident: Incident, responder: User, second_responder: User, sockets: Sockets
) -> None:
    session = await login(second_responder)
    page = sockets(_page(incident), session)
    board = sockets(BOARD, session)
    assert (await page.connect(timeout=TIMEOUT))[0]
    assert (await board.connect(timeout=TIMEOUT))[0]

    item = await _tick(incident, responder)

    html = await page.receive_from(timeout=TIMEOUT)
    assert f'<li class="step state-done" id="step-{item.pk}"' in html
    assert f"Done by {responder.display_name}" in html
    for piece in ("incident-header", "incident-checklist", "incident-notifications", "incident-timeline"):
        assert f'id="{piece}"' in html
    assert f"Done: {item.title}" in html  # the timeline entry

    board_html = await board.receive_from(timeout=TIMEOUT)
    assert '<section id="board"' in board_html
    assert incident.reference in board_html
    assert "1/" in board_html  # one step of the checklist finished


async def test_a_status_change_reaches_the_board(incident: Incident, responder: User, sockets: Sockets) -> None:
    session = await login(responder)
    board = sockets(BOARD, session)
    assert (await board.connect(timeout=TIMEOUT))[0]

    await database_sync_to_async(services.incident_change_status)(
        incident_id=incident.pk,
        user=responder,
        from_status=Incident.Status.INVESTIGATING,
        to_status=Incident.Status.MITIGATING,
    )

    board_html = await board.receive_from(timeout=TIMEOUT)
    assert '<span class="status status-mitigating">Mitigating</span>' in board_html


async def test_each_socket_renders_controls_for_its_own_user(
    incident: Incident, responder: User, manager: User, sockets: Sockets
) -> None:
    responder_page = sockets(_page(incident), await login(responder))
    manager_page = sockets(_page(incident), await login(manager))
    assert (await responder_page.connect(timeout=TIMEOUT))[0]
    assert (await manager_page.connect(timeout=TIMEOUT))[0]

    await _tick(incident, responder)

    responder_html = await responder_page.receive_from(timeout=TIMEOUT)
    manager_html = await manager_page.receive_from(timeout=TIMEOUT)
    assert "Mark done" in responder_html
    assert "Mitigating</button>" in responder_html
    assert "Mark done" not in manager_html
    assert "Reopen" not in manager_html
    assert "<form" not in manager_html
    assert 'id="incident-checklist"' in manager_html
    assert "state-done" in manager_html


async def test_refresh_returns_a_render_and_junk_is_ignored(
    incident: Incident, manager: User, sockets: Sockets
) -> None:
    page = sockets(_page(incident), await login(manager))
    assert (await page.connect(timeout=TIMEOUT))[0]

    await page.send_to(text_data="refresh")
    html = await page.receive_from(timeout=TIMEOUT)
    assert 'id="incident-header"' in html
    assert incident.title in html

    for junk in ("REFRESH", '{"type": "incident.changed"}', "<script>alert(1)</script>"):
        await page.send_to(text_data=junk)
    await page.send_to(bytes_data=b"refresh")
    assert await page.receive_nothing(timeout=0.5)

    # Still open and answering: junk did not break the connection.
    await page.send_to(text_data="refresh")
    assert 'id="incident-timeline"' in await page.receive_from(timeout=TIMEOUT)


async def test_board_refresh_returns_the_board(incident: Incident, manager: User, sockets: Sockets) -> None:
    board = sockets(BOARD, await login(manager))
    assert (await board.connect(timeout=TIMEOUT))[0]
    await board.send_to(text_data="refresh")
    html = await board.receive_from(timeout=TIMEOUT)
    assert '<section id="board"' in html
    assert incident.reference in html


async def test_refreshes_faster_than_the_interval_are_folded_into_one_later_render(
    incident: Incident, manager: User, sockets: Sockets
) -> None:
    page = sockets(_page(incident), await login(manager))
    assert (await page.connect(timeout=TIMEOUT))[0]
    for _ in range(3):
        await page.send_to(text_data="refresh")

    assert 'id="incident-header"' in await page.receive_from(timeout=TIMEOUT)
    # The two asked too soon are served together once the interval has passed: none is lost,
    # and the page is not rendered three times.
    assert await page.receive_nothing(timeout=REFRESH_INTERVAL_SECONDS * 0.6)
    assert 'id="incident-header"' in await page.receive_from(timeout=TIMEOUT)
    assert await page.receive_nothing(timeout=REFRESH_INTERVAL_SECONDS * 2)


async def test_a_socket_idle_longer_than_the_layers_blocking_read_still_gets_changes(
    incident: Incident, responder: User, manager: User, sockets: Sockets
) -> None:
    # redis-py 8 times out a socket read after 5 s by default; a page quiet for longer than that
    # must still get the next change (it once crashed every quiet page's consumer).
    page = sockets(_page(incident), await login(manager))
    assert (await page.connect(timeout=TIMEOUT))[0]

    assert await page.receive_nothing(timeout=6.5, interval=0.1)
    await _tick(incident, responder)

    assert "state-done" in await page.receive_from(timeout=TIMEOUT)


async def test_a_socket_asking_for_what_does_not_exist_is_refused_with_4400(
    incident: Incident, responder: User, sockets: Sockets
) -> None:
    session = await login(responder)
    for path in (
        "/ws/live/",
        live_path("nothing"),
        live_path("incident"),
        live_path("incident.abc"),
        live_path("incident.-1"),
        live_path("board.5"),
        live_path("board", "Board"),
        live_path(*(f"incident.{n}" for n in range(20))),
        "/ws/live/?topic=incident.5%0A",
    ):
        assert await sockets(path, session).connect(timeout=TIMEOUT) == (False, BAD_REQUEST), path


async def test_one_socket_follows_every_part_of_its_page(
    incident: Incident, responder: User, manager: User, sockets: Sockets
) -> None:
    # The board page: its incidents, the remediation section and the health strip on one socket.
    board = sockets(live_path("board", "runs", "health:strip"), await login(manager))
    assert (await board.connect(timeout=TIMEOUT))[0]

    # Catching up renders each part that can (health waits for its next sample).
    await board.send_to(text_data="refresh")
    received = sorted([(await board.receive_from(timeout=TIMEOUT)).strip() for _ in range(2)])
    assert received[0].startswith('<div id="remediation-board" class="remediation-board" hx-swap-oob="true">')
    assert received[1].startswith('<section id="board" hx-swap-oob="true"')
    assert await board.receive_nothing(timeout=0.3)

    await database_sync_to_async(services.incident_change_status)(
        incident_id=incident.pk,
        user=responder,
        from_status=Incident.Status.INVESTIGATING,
        to_status=Incident.Status.MITIGATING,
    )
    assert "status-mitigating" in await board.receive_from(timeout=TIMEOUT)


async def test_a_push_shows_times_in_each_viewers_time_zone(
    incident: Incident, responder: User, manager: User, sockets: Sockets
) -> None:
    tokyo = await database_sync_to_async(User.objects.create_user)(
        "tokyo-manager", role=User.Role.MANAGER, timezone="Asia/Tokyo"
    )
    utc_page = sockets(_page(incident), await login(manager))
    tokyo_page = sockets(_page(incident), await login(tokyo))
    assert (await utc_page.connect(timeout=TIMEOUT))[0]
    assert (await tokyo_page.connect(timeout=TIMEOUT))[0]

    await _tick(incident, responder)

    declared = incident.declared_at
    assert declared.strftime("%Y-%m-%d %H:%M UTC") in await utc_page.receive_from(timeout=TIMEOUT)
    in_tokyo = declared.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert in_tokyo.strftime("%Y-%m-%d %H:%M JST") in await tokyo_page.receive_from(timeout=TIMEOUT)
