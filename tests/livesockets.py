"""Live sockets in tests, opened as a browser opens them: through the whole ASGI stack (origin
check, session auth, routing) to `/ws/live/`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from apps.accounts.models import User
from incidentcenter.asgi import application

ORIGIN = (b"origin", b"http://127.0.0.1")
# Rendering a page's live pieces takes a few database queries; leave room on a busy machine.
TIMEOUT = 5

Sockets = Callable[..., WebsocketCommunicator]


def live_path(*topics: str) -> str:
    """The path a page with these live parts connects to."""
    return "/ws/live/?" + urlencode([("topic", topic) for topic in topics])


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def login(user: User) -> str:
    """A session of the user, for `sockets(path, session)`."""
    return await database_sync_to_async(_session_cookie)(user)


def socket(path: str, session: str | None = None, *, origin: bool = True) -> WebsocketCommunicator:
    headers = [ORIGIN] if origin else []
    if session is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


@pytest.fixture
async def sockets() -> AsyncIterator[Sockets]:
    """Open sockets through this; each one still open at the end is disconnected."""
    opened: list[WebsocketCommunicator] = []

    def open_socket(path: str, session: str | None = None, *, origin: bool = True) -> WebsocketCommunicator:
        communicator = socket(path, session, origin=origin)
        opened.append(communicator)
        return communicator

    yield open_socket
    for communicator in opened:
        await communicator.disconnect()


async def connected(sockets: Sockets, path: str, session: str) -> WebsocketCommunicator:
    communicator = sockets(path, session)
    ok, code = await communicator.connect(timeout=TIMEOUT)
    assert ok, (path, code)
    return communicator


async def receive_until(communicator: WebsocketCommunicator, text: str) -> str:
    """The first message that contains `text` (earlier ones are skipped)."""
    while True:
        message = await communicator.receive_from(timeout=TIMEOUT)
        if text in message:
            return str(message)
