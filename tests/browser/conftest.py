"""Browser tests: the real ASGI application (pages and websockets) served by uvicorn in a thread,
driven by Playwright through Debian's Chromium.

Run them in their own pytest process (`pytest -m browser`): Playwright's sync API leaves an event
loop running that later async tests trip over.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from django.db import connections
from django.test import override_settings
from playwright.sync_api import BrowserContext, Page, expect

from apps.accounts.models import User
from tests.conftest import CHROMIUM
from tests.factories import PASSWORD

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 10


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    # Playwright's own browser download does not work here: drive Debian's Chromium.
    return {"executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(autouse=True)
def _allow_orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API runs an event loop in this thread, so Django would refuse ORM calls
    # made by the tests (factories, assertions on the database) as "async unsafe". Per test, so
    # the setting never leaks into other tests of the same run.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    # The default hasher costs about a second per user and per sign-in on these machines; the
    # sign-in form works the same with a cheap one.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@dataclass
class LiveServer:
    """incidentcenter.asgi.application under uvicorn, in a daemon thread of this process."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=SERVER_START_SECONDS)
        assert not self.thread.is_alive(), "the live server did not stop"


def _serve(sock: socket.socket) -> LiveServer:
    from incidentcenter.asgi import application

    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(application, host=host, port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    return LiveServer(url=f"http://{host}:{port}", server=server, thread=thread)


@pytest.fixture
def asgi_live_server(transactional_db: None) -> Iterator[LiveServer]:
    """The site on a free port. Rows the test writes are committed, so the server sees them.

    Not named `live_server`: pytest-django's own fixture of that name is a WSGI server without
    websockets, and its autouse helper expects that fixture's interface."""
    # Bound here and handed to uvicorn, so no other process can take the port in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = _serve(sock)
    yield server
    if server.thread.is_alive():
        server.stop()
    sock.close()


@pytest.fixture
def live_url(asgi_live_server: LiveServer) -> str:
    return asgi_live_server.url


def login(page: Page, live_url: str, user: User, password: str = PASSWORD) -> None:
    """Sign in through the real login form and wait for the board."""
    page.goto(f"{live_url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Incident board")).to_be_visible()


@dataclass
class Browsers:
    """Opens one browser context (one person) per call and watches its pages for script errors."""

    live_url: str
    new_context: Callable[..., BrowserContext]
    errors: list[str] = field(default_factory=list)

    def page(self) -> Page:
        """A page in a fresh context: its own cookies, so its own session."""
        page = self.new_context(base_url=self.live_url).new_page()
        self._watch(page)
        return page

    def signed_in(self, user: User, path: str = "/") -> Page:
        page = self.page()
        login(page, self.live_url, user)
        if path != "/":
            page.goto(path)
        return page

    def _watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"{page.url}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )


@pytest.fixture
def browsers(asgi_live_server: LiveServer, new_context: Callable[..., BrowserContext]) -> Iterator[Browsers]:
    """Browser contexts on the live server; a script error or CSP violation fails the test."""
    # Requested after the server, so the contexts close before the server stops.
    browsers = Browsers(live_url=asgi_live_server.url, new_context=new_context)
    yield browsers
    assert browsers.errors == []


def declare_through_form(page: Page, title: str, scenario: str = "Database Failure", severity: str = "SEV1") -> None:
    """From any signed-in page, declare an incident as a responder would, and wait for its page."""
    page.get_by_role("link", name="Declare incident").click()
    expect(page.get_by_role("heading", name="Declare an incident")).to_be_visible()
    page.get_by_role("radio", name=scenario).check()
    page.get_by_role("radio", name=severity).check()
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Declare incident").click()
    expect(page.locator("#incident-header h1")).to_contain_text(title)


def outside_event_loop[T](func: Callable[..., T], /, **kwargs: Any) -> T:
    """Call a service from a thread of its own, as a view would.

    Playwright's event loop runs in the test's thread, where `async_to_sync` cannot send the
    service's after-commit live update; a plain thread can.
    """

    def call() -> T:
        try:
            return func(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result(timeout=30)


def wait_until_live(page: Page) -> None:
    """The page's websocket is open: pushes from now on reach it."""
    expect(page.locator("[data-live-status]").first).to_have_attribute("data-state", "live")


def mark_window(page: Page) -> None:
    """Set a marker that a navigation or reload would wipe."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__notReloaded") is True
