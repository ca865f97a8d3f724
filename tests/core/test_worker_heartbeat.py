"""A real Celery worker announces itself through its heartbeat: /readyz turns ready once it runs,
and unavailable again once it has stopped and its heartbeat has expired."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.core.helpers import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db]

CELERY = Path(sys.executable).parent / "celery"
WORKER = [str(CELERY), "-A", "incidentcenter", "worker", "--pool=solo", "-Q", "default", "--loglevel=INFO"]


def _readyz(client: Client) -> tuple[int, dict[str, object]]:
    response = client.get(reverse("readyz"))
    return response.status_code, response.json()


def _worker_names(body: dict[str, object]) -> list[str]:
    worker = body["checks"]["worker"]  # type: ignore[index]
    return list(worker.get("workers", []))  # type: ignore[union-attr]


def test_a_running_worker_makes_readyz_ready_until_it_stops(
    client: Client, heartbeats: redis.Redis, tmp_path: Path
) -> None:
    assert _readyz(client)[0] == 503
    log_path = tmp_path / "worker.log"
    env = {**os.environ, "WORKER_HEARTBEAT_SECONDS": "1"}
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [*WORKER, "-n", "testworker@%h"], cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:

            def ready() -> dict[str, object] | None:
                assert worker.poll() is None, f"the worker exited early:\n{log_path.read_text()}"
                status, body = _readyz(client)
                return body if status == 200 else None

            body = wait_for(ready, timeout=90, interval=0.25, what="the worker's heartbeat")
            assert body["status"] == "ok"
            assert [name for name in _worker_names(body) if name.startswith("testworker@")]
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)

    # The key expires on its own (3 heartbeat intervals): nobody has to clean up after a dead worker.
    def unavailable() -> dict[str, object] | None:
        status, body = _readyz(client)
        return body if status == 503 else None

    body = wait_for(unavailable, timeout=15, what="the stopped worker's heartbeat to expire")
    assert body["checks"]["worker"] == {"ok": False, "error": "no worker heartbeat", "workers": []}  # type: ignore[index]
