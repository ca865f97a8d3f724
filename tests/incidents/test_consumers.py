"""The live board and incident sockets, through the whole ASGI stack (origin check, session auth,
routing) and the Redis channel layer, as a browser reaches them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.test import Client, override_settings

from apps.accounts.models import User
from apps.incidents import services
from apps.incidents.consumers import NOT_ALLOWED, NOT_FOUND, REFRESH_INTERVAL_SECONDS
from apps.incidents.models import ChecklistItem, Incident
from incidentcenter.asgi import application
from tests.factories import declare_incident

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ORIGIN = (b"origin", b"http://127.0.0.1")
# Rendering a page's live pieces takes a few database queries; leave room on a busy machine.
TIMEOUT = 5


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def _login(user: User) -> str:
    return await database_sync_to_async(_session_cookie)(user)


def _socket(path: str, session: str | None = None, *, origin: bool = True) -> WebsocketCommunicator:
    headers = [ORIGIN] if origin else []
    if session is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


@pytest.fixture(autouse=True)
def fast_password_hashing() -> Iterator[None]:
    # The users' passwords play no part here, and the default hasher costs a second per user.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def incident(procedures: object, responder: User) -> Incident:
    return declare_incident(responder, title="Primary database down")


@pytest.fixture
async def sockets() -> AsyncIterator[Callable[..., WebsocketCommunicator]]:
    """Open sockets through this; each one still open at the end is disconnected."""
    opened: list[WebsocketCommunicator] = []

    def open_socket(path: str, session: str | None = None, *, origin: bool = True) -> WebsocketCommunicator:
        communicator = _socket(path, session, origin=origin)
        opened.append(communicator)
        return communicator

    yield open_socket
    for communicator in opened:
        await communicator.disconnect()


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


async def test_anonymous_sockets_are_refused(incident: Incident, sockets: Callable[..., WebsocketCommunicator]) -> None:
    for path in ("/ws/board/", f"/ws/incidents/{incident.pk}/"):
        connected, code = await sockets(path).connect(timeout=TIMEOUT)
        assert (connected, code) == (False, NOT_ALLOWED), path


async def test_a_socket_without_origin_is_refused(
    incident: Incident, responder: User, sockets: Callable[..., WebsocketCommunicator]
) -> None:
    session = await _login(responder)
    for path in ("/ws/board/", f"/ws/incidents/{incident.pk}/"):
        connected, _ = await sockets(path, session, origin=False).connect(timeout=TIMEOUT)
        assert connected is False, path


async def test_a_socket_from_a_foreign_origin_is_refused(
    incident: Incident, responder: User, sockets: Callable[..., WebsocketCommunicator]
) -> None:
    session = await _login(responder)
    communicator = WebsocketCommunicator(
        application,
        f"/ws/incidents/{incident.pk}/",
        headers=[
            (b"origin", b"http://evil.example.com"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()),
        ],
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected is False
    await communicator.disconnect()


async def test_an_unknown_session_is_refused(incident: Incident, sockets: Callable[..., WebsocketCommunicator]) -> None:
    connected, code = await sockets(f"/ws/incidents/{incident.pk}/", "not-a-session").connect(timeout=TIMEOUT)
    assert (connected, code) == (False, NOT_ALLOWED)


async def test_manager_is_accepted_read_only_role(
    incident: Incident, manager: User, sockets: Callable[..., WebsocketCommunicator]
) -> None:
    session = await _login(manager)
    for path in ("/ws/board/", f"/ws/incidents/{incident.pk}/"):
        connected, _ = await sockets(path, session).connect(timeout=TIMEOUT)
        assert connected is True, path


async def test_an_unknown_incident_is_closed_with_4404(
    incident: Incident, responder: User, sockets: Callable[..., WebsocketCommunicator]
) -> None:
    session = await _login(responder)
    connected, code = await sockets(f"/ws/incidents/{incident.pk + 1000}/", session).connect(timeout=TIMEOUT)
    assert (connected, code) == (False, NOT_FOUND)


async def test_a_checklist_tick_reaches_the_incident_page_and_the_board(
    incident: Incident, responder: User, second_responder: User, sockets: Callable[..., WebsocketCommunicator]
) -> None:
    session = await _login(second_responder)
    page = sockets(f"/ws/incidents/{incident.pk}/", session)
    board = sockets("/ws/board/", session)
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


async def test_a_status_change_reaches_the_board(
    incident: Incident, responder: User, sockets: Callable[..., WebsocketCommunicator]
) -> None:
    session = await _login(responder)
    board = sockets("/ws/board/", session)
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
    incident: Incident, responder: User, manager: User, sockets: Callable[..., WebsocketCommunicator]
) -> None:
    responder_page = sockets(f"/ws/incidents/{incident.pk}/", await _login(responder))
    manager_page = sockets(f"/ws/incidents/{incident.pk}/", await _login(manager))
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
    incident: Incident, manager: User, sockets: Callable[..., WebsocketCommunicator]
) -> None:
    page = sockets(f"/ws/incidents/{incident.pk}/", await _login(manager))
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


async def test_board_refresh_returns_the_board(
    incident: Incident, manager: User, sockets: Callable[..., WebsocketCommunicator]
) -> None:
    board = sockets("/ws/board/", await _login(manager))
    assert (await board.connect(timeout=TIMEOUT))[0]
    await board.send_to(text_data="refresh")
    html = await board.receive_from(timeout=TIMEOUT)
    assert '<section id="board"' in html
    assert incident.reference in html


async def test_refreshes_faster_than_the_interval_are_folded_into_one_later_render(
    incident: Incident, manager: User, sockets: Callable[..., WebsocketCommunicator]
) -> None:
    page = sockets(f"/ws/incidents/{incident.pk}/", await _login(manager))
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
    incident: Incident, responder: User, manager: User, sockets: Callable[..., WebsocketCommunicator]
) -> None:
    # redis-py 8 times out a socket read after 5 s by default; a page quiet for longer than that
    # must still get the next change (it once crashed every quiet page's consumer).
    page = sockets(f"/ws/incidents/{incident.pk}/", await _login(manager))
    assert (await page.connect(timeout=TIMEOUT))[0]

    assert await page.receive_nothing(timeout=6.5, interval=0.1)
    await _tick(incident, responder)

    assert "state-done" in await page.receive_from(timeout=TIMEOUT)
