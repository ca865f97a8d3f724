"""Fixtures for the health tests: hosts, recorded readings, and a real HTTP server standing in
for the protected website."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from apps.health import services
from apps.health.models import Host, Sample
from apps.health.probes import Reading


@pytest.fixture(autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    # The named users get a password; the default hasher costs about a second each here.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def the_test_database_url() -> str:
    """A URL of the database the tests run on (pytest-django's test database)."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def host(db: None) -> Host:
    return Host.objects.create(name="web-1", description="Primary web and database server")


@pytest.fixture
def other_host(db: None) -> Host:
    return Host.objects.create(name="web-2", description="Second web server")


def record(
    host: Host,
    probe: str,
    state: str,
    value: float | None = None,
    summary: str = "",
    *,
    data: dict[str, Any] | None = None,
    error: str = "",
    taken_at: datetime | None = None,
) -> Sample:
    """Record one reading of one probe, as a worker's sampling round does."""
    reading = Reading(probe, state, value, summary, data or {}, error)
    (sample,) = services.readings_record(host=host, readings=[reading], taken_at=taken_at)
    return sample


@dataclass
class Website:
    """A local web server whose pages the test changes: {path: (status, body)}."""

    base_url: str
    pages: dict[str, tuple[int, bytes]] = field(default_factory=dict)

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}{path}"


@pytest.fixture
def website() -> Iterator[Website]:
    site = Website(base_url="")
    site.pages["/"] = (200, b"<html><body><h1>Mvono</h1><p>Welcome to our shop.</p></body></html>")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = site.pages.get(self.path, (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-website", daemon=True
    )
    thread.start()
    yield site
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
