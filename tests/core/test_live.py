"""The one live-update path: `publish` sends once, after commit, never raising; sockets showing
the same part to the same audience share one render; and deployments sharing a Redis server on
different database numbers never hear each other."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from apps.accounts.models import User
from apps.core import live
from apps.core.concurrency import in_worker_thread
from apps.core.live import Data, _send
from apps.incidents import pages
from apps.incidents.live import BOARD_TOPIC, incident_topic
from apps.incidents.models import Incident
from incidentcenter.settings import channel_prefix_for
from tests.factories import declare_incident
from tests.livesockets import TIMEOUT, Sockets, connected, live_path, login, sockets

__all__ = ["sockets"]


# --- the default prefix ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "prefix"),
    [
        ("redis://127.0.0.1:6379/5", "incidentcenter-5"),
        ("redis://127.0.0.1:6379/4", "incidentcenter-4"),
        ("redis://127.0.0.1:6379", "incidentcenter-0"),
        ("redis://:secret@redis.internal/05", "incidentcenter-5"),
        ("rediss://10.0.0.2:6380/5", "incidentcenter-5"),
        ("redis://127.0.0.1:6379/?db=3", "incidentcenter-3"),
        ("unix:///run/redis/redis.sock?db=2", "incidentcenter-2"),
    ],
)
def test_the_default_prefix_follows_the_database_number(url: str, prefix: str) -> None:
    assert channel_prefix_for(url) == prefix


def test_a_database_number_that_is_not_a_number_is_refused() -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="database number"):
        channel_prefix_for("redis://127.0.0.1:6379/five")


# --- publishing -----------------------------------------------------------------------------------
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_publish_waits_for_the_commit_sends_once_and_never_after_a_rollback() -> None:
    layer = get_channel_layer()
    assert layer is not None
    topic = f"commit-test-{uuid.uuid4().hex[:8]}"
    channel = await layer.new_channel()
    await layer.group_add(topic, channel)
    entered, release = threading.Event(), threading.Event()

    def committed() -> None:
        with transaction.atomic():
            live.publish(topic, {"label": "committed"})
            entered.set()
            release.wait(TIMEOUT)

    def rolled_back() -> None:
        try:
            with transaction.atomic():
                live.publish(topic, {"label": "rolled back"})
                raise RuntimeError
        except RuntimeError:
            pass

    async def next_label() -> str:
        return str((await asyncio.wait_for(layer.receive(channel), TIMEOUT))["data"]["label"])

    try:
        writer = asyncio.ensure_future(database_sync_to_async(committed)())
        await asyncio.to_thread(entered.wait, TIMEOUT)
        # Messages arrive in the order they were published: one published from elsewhere while
        # the transaction is open comes first, and the transaction's own follows its commit.
        await in_worker_thread(live.publish)(topic, {"label": "meanwhile"})
        assert await next_label() == "meanwhile"
        release.set()
        await writer
        assert await next_label() == "committed"

        await database_sync_to_async(rolled_back)()
        await database_sync_to_async(live.publish)(topic, {"label": "after"})
        assert await next_label() == "after"
    finally:
        await layer.group_discard(topic, channel)


@pytest.mark.redis
@pytest.mark.django_db
def test_a_publish_redis_does_not_take_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: Any
) -> None:
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "hosts": ["redis://127.0.0.1:9/0"]}
    with (
        override_settings(CHANNEL_LAYERS=layers),
        caplog.at_level(logging.WARNING, logger="apps.core.live"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        live.publish("board")
    assert "live update of board not sent" in caplog.text


@pytest.mark.django_db(transaction=True)
async def test_without_redis_a_publish_from_any_thread_reaches_this_processs_sockets() -> None:
    # The embedded mode of `make run`: the in-memory layer, and jobs publishing from their own
    # threads, outside the server's event loop.
    from django.db import connections

    from apps.core.consumers import LiveConsumer, hub

    sent: list[str] = []
    arrived = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["text"])
        arrived.set()

    def from_a_job_thread() -> None:
        try:
            live.publish("in-process-test", {"n": 1})
        finally:
            connections.close_all()

    part = live.LivePart("inprocesstest", live.fixed_topic("in-process-test"), lambda u, k: True, _echo_data)
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}):
        shared = hub()
        assert shared is not None
        assert shared.in_process
        page = LiveConsumer()
        page.base_send, page.accepted = send, True
        view = await shared.join(page, part, "", None, None)
        try:
            job = threading.Thread(target=from_a_job_thread)
            job.start()
            await asyncio.wait_for(arrived.wait(), TIMEOUT)
            job.join()
            assert sent == ["<p>{'n': 1}</p>"]
        finally:
            await shared.leave(page, view)
        assert not shared.running


def _echo_data(key: str, user: Any, data: dict[str, Any] | None) -> str:
    return f"<p>{data}</p>"


# --- one render per view --------------------------------------------------------------------------
@pytest.fixture
def counted_renders(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"board": 0, "incident": 0}

    def counting(name: str, render: Callable[..., str]) -> Callable[..., str]:
        def wrapper(*args: Any) -> str:
            counts[name] += 1
            return render(*args)

        return wrapper

    monkeypatch.setattr(pages, "render_board_live", counting("board", pages.render_board_live))
    monkeypatch.setattr(pages, "render_incident_live", counting("incident", pages.render_incident_live))
    return counts


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_a_change_is_rendered_once_per_view_however_many_sockets_show_it(
    procedures: object, make_user: Callable[..., User], counted_renders: dict[str, int], sockets: Sockets
) -> None:
    managers = [await database_sync_to_async(make_user)(User.Role.MANAGER) for _ in range(4)]
    responders = [await database_sync_to_async(make_user)(User.Role.RESPONDER) for _ in range(4)]
    incident: Incident = await database_sync_to_async(declare_incident)(responders[0], title="Disk full")

    async def change(topic: str, pages_open: list[Any]) -> None:
        await database_sync_to_async(live.publish)(topic)
        await asyncio.gather(*(page.receive_from(timeout=TIMEOUT) for page in pages_open))
        assert all([await asyncio.gather(*(page.receive_nothing(timeout=0.2) for page in pages_open))])

    # One board open: one render.
    boards = [await connected(sockets, live_path("board"), await login(managers[0]))]
    await change(BOARD_TOPIC, boards)
    assert counted_renders["board"] == 1

    # Eight boards of eight people in two roles: one render per role.
    for user in [*managers[1:], *responders]:
        boards.append(await connected(sockets, live_path("board"), await login(user)))
    await change(BOARD_TOPIC, boards)
    assert counted_renders["board"] == 1 + 2

    # Six tabs of the incident's page, five of them one person's: one render per person.
    session = await login(responders[1])
    tabs = [await connected(sockets, live_path(incident_topic(incident.pk)), session) for _ in range(5)]
    tabs.append(await connected(sockets, live_path(incident_topic(incident.pk)), await login(managers[1])))
    await change(incident_topic(incident.pk), tabs)
    assert counted_renders["incident"] == 2


# --- two deployments, one Redis server ------------------------------------------------------------
class _Deployment:
    """A process with its own settings (tests/core/live_deployment.py), read line by line."""

    def __init__(self, name: str, redis_url: str, topic: str, prefix: str | None) -> None:
        self.redis_url = redis_url
        self.prefix = ""
        env = {k: v for k, v in os.environ.items() if k != "CHANNEL_PREFIX"}
        # No database is needed: publish() outside a transaction sends at once.
        env.update({"REDIS_URL": redis_url, "DATABASE_URL": "sqlite://:memory:", "DEBUG": "1"})
        if prefix is not None:
            env["CHANNEL_PREFIX"] = prefix
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.core.live_deployment", name, topic],
            cwd=settings.BASE_DIR, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.heard: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def wait_for(self, key: str, value: object = None) -> object:
        """Read until a line with `key` (and `value`, if given) arrives; note what was heard."""
        while True:
            try:
                line = self.lines.get(timeout=30)
            except queue.Empty:
                assert self.process.stderr is not None
                self.process.kill()
                pytest.fail(f"no {key} {value or ''} from the deployment: {self.process.stderr.read()}")
            if "heard" in line:
                self.heard.append(f"{line['heard']['from']}:{line['heard']['label']}")
            if key in line and (value is None or line[key] == value):
                return line[key]

    def hears(self, label: str) -> None:
        while label not in self.heard:
            self.wait_for("heard")

    def publish(self, label: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"publish": label}) + "\n")
        self.process.stdin.flush()
        self.wait_for("published", label)

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _two_databases() -> tuple[str, str]:
    """This test run's Redis URL, and the same server on the next database number."""
    parts = urlsplit(settings.REDIS_URL)
    number = int(parts.path.strip("/") or 0)
    other = parts._replace(path=f"/{(number + 1) % 16}")
    return settings.REDIS_URL, urlunsplit(other)


@pytest.fixture
def deployments() -> Iterator[Callable[..., tuple[_Deployment, _Deployment]]]:
    started: list[_Deployment] = []

    def start(prefix: str | None = None) -> tuple[_Deployment, _Deployment]:
        topic = f"deployments-{uuid.uuid4().hex[:8]}"
        url_a, url_b = _two_databases()
        a, b = _Deployment("a", url_a, topic, prefix), _Deployment("b", url_b, topic, prefix)
        started.extend([a, b])
        a.prefix, b.prefix = str(a.wait_for("ready")), str(b.wait_for("ready"))
        return a, b

    yield start
    for deployment in started:
        deployment.stop()


def _exchange(a: _Deployment, b: _Deployment) -> None:
    """Each publishes, then waits until it hears its own message, the other after it.

    Redis hands a subscriber the messages of one channel in the order they were published, so
    once a deployment heard its own message it has heard whatever the other published before."""
    b.publish("first")
    b.hears("b:first")
    a.publish("second")
    a.hears("a:second")
    a.publish("third")
    a.hears("a:third")
    b.publish("fourth")
    b.hears("b:fourth")


@pytest.mark.redis
def test_two_deployments_on_two_database_numbers_never_hear_each_other(
    deployments: Callable[..., tuple[_Deployment, _Deployment]],
) -> None:
    a, b = deployments()
    assert {a.prefix, b.prefix} == {channel_prefix_for(a.redis_url), channel_prefix_for(b.redis_url)}
    assert a.prefix != b.prefix

    _exchange(a, b)

    assert a.heard == ["a:second", "a:third"]
    assert b.heard == ["b:first", "b:fourth"]


@pytest.mark.redis
def test_with_one_prefix_for_both_they_would_hear_each_other(
    deployments: Callable[..., tuple[_Deployment, _Deployment]],
) -> None:
    # The control: the same exchange under one shared prefix (the old default) shows the leak
    # the test above rules out.
    a, b = deployments(prefix=f"shared-{uuid.uuid4().hex[:8]}")

    _exchange(a, b)

    assert a.heard == ["b:first", "a:second", "a:third"]
    assert b.heard == ["b:first", "a:second", "a:third", "b:fourth"]


def _queued(callbacks: list[Any], topic: str) -> list[Data]:
    """The live messages for `topic` that will leave when the transaction commits."""
    sends = [c for c in callbacks if isinstance(c, functools.partial) and c.func is _send]
    return [c.args[0] for c in sends if c.args[0]["topic"] == topic]


@pytest.mark.django_db
def test_a_transaction_sends_one_changed_message_per_topic_however_many_changes_it_makes(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        live.publish("incident.7")
        live.publish("incident.7")
        live.publish("board")
        live.publish("incident.7", {"html": "<p>carries its own data</p>"})
        live.publish("incident.7")

    assert len(_queued(callbacks, "incident.7")) == 2  # one "it changed", one with its data
    assert [m["data"] for m in _queued(callbacks, "incident.7")] == [{}, {"html": "<p>carries its own data</p>"}]
    assert len(_queued(callbacks, "board")) == 1


@pytest.mark.django_db
def test_a_change_after_a_rolled_back_savepoint_is_still_announced(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        try:
            with transaction.atomic():
                live.publish("incident.8")
                raise RuntimeError
        except RuntimeError:
            pass
        live.publish("incident.8")

    assert len(_queued(callbacks, "incident.8")) == 1
