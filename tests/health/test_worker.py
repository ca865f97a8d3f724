"""The sampler in a real Celery worker of its own host queue: its sample reaches an open page
through Redis, is stored, and once the worker is stopped the host turns unreachable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from apps.accounts.models import User
from apps.core import jobs
from apps.health import live, selectors
from apps.health.models import Host, Probe, Sample
from incidentcenter.asgi import application
from tests.health.conftest import the_test_database_url

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CELERY = Path(sys.executable).parent / "celery"
ORIGIN = (b"origin", b"http://127.0.0.1")
# A cold worker imports Django and every app before it takes its first message.
FIRST_SAMPLE_SECONDS = 90


class Worker:
    """`celery worker` consuming only host.<name>, as that host runs it, on the test database."""

    def __init__(self, host_name: str, log_path: Path) -> None:
        self.log_path = log_path
        env = {
            **os.environ,
            "DATABASE_URL": the_test_database_url(),
            "TARGET_DATABASE_URL": the_test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CHANNEL_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            "INCIDENTCENTER_HOST": host_name,
            "DEBUG": "1",
        }
        command = [str(CELERY), "-A", "incidentcenter", "worker", "--pool=solo", "-Q", f"host.{host_name}",
                   "-n", "healthtest@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO"]  # fmt: skip
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def host_name() -> str:
    # Its own queue name per run: nothing left in Redis by an earlier run can reach this worker.
    return f"hw-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def worker(host_name: str, tmp_path: Path) -> Iterator[Worker]:
    running = Worker(host_name, tmp_path / "worker.log")
    try:
        yield running
    finally:
        running.stop()


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def test_a_sample_taken_by_the_hosts_worker_reaches_an_open_page_then_the_host_turns_unreachable(
    host_name: str, worker: Worker, responder: User
) -> None:
    host = await database_sync_to_async(Host.objects.create)(name=host_name, description="sampled by its own worker")
    session = await database_sync_to_async(_session_cookie)(responder)
    page = WebsocketCommunicator(
        application,
        f"/ws/live/?topic=health:widgets:{host_name}",
        headers=[ORIGIN, (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode())],
    )
    connected, _ = await page.connect(timeout=5)
    assert connected

    try:
        # As the fan-out sends it: by name, the host's id, to the host's queue.
        await database_sync_to_async(jobs.enqueue)("health.sample_host", host.pk, queue=host.queue)
        try:
            widgets = await page.receive_from(timeout=FIRST_SAMPLE_SECONDS)
        except TimeoutError:
            pytest.fail(f"no widgets arrived from the worker; its log:\n{worker.output()}")

        # This machine's real numbers, rendered by the worker, pushed through Redis.
        for probe in Probe.values:
            assert f'id="widget-{host_name}-{probe}"' in widgets
        assert "% of" in widgets  # e.g. "3% of 2 cores"
        assert "connections" in widgets  # the PostgreSQL widget of the test database
        samples = await database_sync_to_async(lambda: list(Sample.objects.filter(host=host)))()
        assert sorted(s.probe for s in samples) == sorted(Probe.values)
        assert len({s.taken_at for s in samples}) == 1
    finally:
        worker.stop()
        await page.disconnect()

    # The worker is gone: nothing samples the host any more. Three intervals after its last
    # sample, the dashboard says so.
    last_seen = samples[0].taken_at
    with time_machine.travel(last_seen + timedelta(seconds=1), tick=False):
        (status,) = await database_sync_to_async(selectors.host_statuses)([host])
        assert (status.reachable, status.last_seen) == (True, last_seen)
    silent_for = timedelta(seconds=3 * settings.HEALTH_SAMPLE_SECONDS + 1)
    with time_machine.travel(last_seen + silent_for, tick=False):
        (status,) = await database_sync_to_async(selectors.host_statuses)([host])
        strip = await database_sync_to_async(live.render_strip)()
    assert (status.reachable, status.state) == (False, "unreachable")
    assert f"unreachable since {last_seen:%H:%M:%S}" in strip
