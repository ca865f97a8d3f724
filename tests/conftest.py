"""Shared fixtures: named users per role, logged-in clients, the procedures, service checks.

Tests that need PostgreSQL, Redis or a browser are marked (`postgres`, `redis`, `browser`) and
skip with a reason when the service is absent, unless REQUIRE_SERVICES=1 (as in CI), where a
missing service fails the run instead.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import connections
from django.test import Client, override_settings

from apps.accounts.models import User
from apps.core import jobs
from apps.runbooks.models import Runbook
from apps.runbooks.services import procedures_load
from tests.factories import UserFactory

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = "/usr/bin/chromium"


def smtp_mailers(port: int, *, timeout: int = 2, host: str = "127.0.0.1") -> dict[str, dict[str, object]]:
    """MAILERS that send through a test SMTP server on this machine (plain, no login)."""
    options = {"host": host, "port": port, "use_tls": False, "timeout": timeout}
    return {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}}


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def _missing(marker: str) -> str | None:
    """Why a marked test cannot run here, or None when it can."""
    if marker == "postgres" and not settings.USING_POSTGRES:
        return "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidentcenter"
    if marker == "redis":
        if not settings.REDIS_URL:
            return "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0"
        if not _reachable(settings.REDIS_URL, 6379):
            return f"Redis at {settings.REDIS_URL} does not answer"
    if marker == "nginx" and not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        return "needs nginx (apt-get install nginx-light)"
    if marker == "browser" and not shutil.which(CHROMIUM):
        return f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def pytest_configure(config: pytest.Config) -> None:
    # The default hasher costs about a second per password here; sign-in works the same with a
    # cheap one, and the suite is several times faster.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if REQUIRE_SERVICES and not settings.USING_POSTGRES:
        raise pytest.UsageError(
            "REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL: the suite must run on PostgreSQL"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in ("postgres", "redis", "browser", "nginx"):
            if item.get_closest_marker(marker) is None:
                continue
            reason = _missing(marker)
            if reason is None:
                continue
            if REQUIRE_SERVICES:
                raise pytest.UsageError(f"REQUIRE_SERVICES=1 and {item.nodeid} {reason}")
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Jobs a test sent to the embedded runner (no Redis: apps.core.jobs runs them in this
    process) never outlive it: the runner is stopped before any fixture is torn down, the test
    database among them. A hook rather than a fixture, so it runs first whatever the fixtures'
    order."""
    stopped = jobs.stop_in_process()
    yield
    jobs.stop_in_process()  # and whatever a server thread sent while the fixtures were torn down
    if not stopped:
        pytest.fail(f"{item.nodeid}: a background job was still running 10 s after the test ended")


@pytest.fixture(autouse=True)
def _sync_thread_releases_its_connections() -> Iterator[None]:
    """Async tests run database work on asgiref's one shared sync thread (Channels' session and user
    lookups, `database_sync_to_async`); a connection it still holds after a test would outlive the
    test database, whose teardown then finds it "being accessed by other users"."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


@pytest.fixture(autouse=True)
def _host_folders_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test writes backups, maintenance pages, evidence or a demo website under the project's
    own var/ folder."""
    root = tmp_path_factory.mktemp("host-folders")
    names = ("BACKUP_DIR", "MAINTENANCE_DIR", "EVIDENCE_DIR", "WEB_ROOT")
    with override_settings(**{name: root / name.lower() for name in names}):
        yield


@pytest.fixture
def procedures(db: None) -> list[Runbook]:
    """The emergency procedures as loaded by `manage.py load_procedures` / `seed_demo`."""
    return procedures_load()


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(role: str = User.Role.RESPONDER, **kwargs: object) -> User:
        return UserFactory(role=role, **kwargs)  # type: ignore[no-any-return]

    return make


@pytest.fixture
def responder(make_user: Callable[..., User]) -> User:
    return make_user(User.Role.RESPONDER, username="riley", first_name="Riley", last_name="Responder")


@pytest.fixture
def second_responder(make_user: Callable[..., User]) -> User:
    return make_user(User.Role.RESPONDER, username="sam", first_name="Sam", last_name="Second")


@pytest.fixture
def manager(make_user: Callable[..., User]) -> User:
    return make_user(User.Role.MANAGER, username="morgan", first_name="Morgan", last_name="Manager")


@pytest.fixture
def comms(make_user: Callable[..., User]) -> User:
    return make_user(User.Role.COMMUNICATIONS, username="casey", first_name="Casey", last_name="Comms")


@pytest.fixture
def admin_user(make_user: Callable[..., User]) -> User:
    return make_user(User.Role.ADMIN, username="alex", first_name="Alex", last_name="Admin")


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def responder_client(responder: User) -> Client:
    return _client_for(responder)


@pytest.fixture
def manager_client(manager: User) -> Client:
    return _client_for(manager)


@pytest.fixture
def comms_client(comms: User) -> Client:
    return _client_for(comms)


@pytest.fixture
def admin_client_(admin_user: User) -> Client:
    return _client_for(admin_user)
