"""A run's page over the real ASGI stack and the Redis channel layer: its log lines and state
arrive live; the board's remediation section follows; strangers get nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from apps.accounts.models import User
from apps.health.models import Host
from apps.incidents.consumers import NOT_ALLOWED, NOT_FOUND
from apps.remediation import services
from apps.remediation.models import ActionRun
from incidentcenter.asgi import application
from tests.remediation.conftest import request_run

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ORIGIN = (b"origin", b"http://127.0.0.1")
TIMEOUT = 5


def _session(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
async def sockets() -> AsyncIterator[Callable[..., WebsocketCommunicator]]:
    opened: list[WebsocketCommunicator] = []

    def open_socket(path: str, user: User | None = None) -> WebsocketCommunicator:
        headers = [ORIGIN]
        if user is not None:
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={_session(user)}".encode()))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        opened.append(communicator)
        return communicator

    yield open_socket
    for communicator in opened:
        await communicator.disconnect()


async def _receive_until(communicator: WebsocketCommunicator, text: str) -> str:
    while True:
        message = await communicator.receive_from(timeout=TIMEOUT)
        if text in message:
            return message


async def test_log_lines_and_the_end_of_a_run_reach_its_open_page(responder: User, local_host: Host, sockets) -> None:
    run = await database_sync_to_async(request_run)(responder, "maintenance_mode", {"mode": "off"}, host=local_host)
    page = await database_sync_to_async(sockets)(f"/ws/actions/{run.pk}/", responder)
    connected, _ = await page.connect(timeout=TIMEOUT)
    assert connected
    await database_sync_to_async(services.run_claim)(run_id=run.pk, worker="test")
    assert "Running" in await _receive_until(page, 'id="run-head"')
    await database_sync_to_async(services.log_append)(run.pk, [("out", "restoring <table> users")])
    line = await _receive_until(page, "restoring")
    assert f'hx-swap-oob="beforeend:#run-log-{run.pk}"' in line
    assert "restoring &lt;table&gt; users" in line
    await database_sync_to_async(services.run_finish)(
        run_id=run.pk, finish=services.Finish(ActionRun.State.SUCCEEDED, "All good", verified=True)
    )
    head = await _receive_until(page, "All good")
    assert "Succeeded" in head


async def test_the_board_section_shows_a_run_waiting_for_approval(
    responder: User, manager: User, local_host: Host, sockets
) -> None:
    from apps.remediation.models import ApprovalRule

    await database_sync_to_async(ApprovalRule.objects.create)(action="maintenance_mode", needs_approval=True)
    board = await database_sync_to_async(sockets)("/ws/actions/board/", manager)
    assert (await board.connect(timeout=TIMEOUT))[0]
    run = await database_sync_to_async(request_run)(responder, "maintenance_mode", {"mode": "off"}, host=local_host)
    html = await _receive_until(board, "Waiting for approval")
    assert f"#{run.pk} maintenance_mode" in html


async def test_strangers_and_missing_runs_are_refused(responder: User, local_host: Host, sockets) -> None:
    run = await database_sync_to_async(request_run)(responder, "maintenance_mode", {"mode": "off"}, host=local_host)
    assert await sockets(f"/ws/actions/{run.pk}/").connect(timeout=TIMEOUT) == (False, NOT_ALLOWED)
    assert await sockets("/ws/actions/board/").connect(timeout=TIMEOUT) == (False, NOT_ALLOWED)
    missing = await database_sync_to_async(sockets)("/ws/actions/999999/", responder)
    assert await missing.connect(timeout=TIMEOUT) == (False, NOT_FOUND)
