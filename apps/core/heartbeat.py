"""Worker heartbeats: each Celery worker writes a short-lived Redis key, /readyz reads them.

The key expires on its own, so a dead worker disappears without anyone cleaning up after it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery import bootsteps
from django.conf import settings

logger = logging.getLogger(__name__)
KEY_PREFIX = "incidentcenter:worker:"


def heartbeat_ttl() -> int:
    return settings.WORKER_HEARTBEAT_SECONDS * 3


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def record_heartbeat(client: redis.Redis, worker_name: str) -> None:
    client.set(f"{KEY_PREFIX}{worker_name}", str(time.time()), ex=heartbeat_ttl())


def live_workers(client: redis.Redis) -> list[str]:
    return sorted(key.decode()[len(KEY_PREFIX) :] for key in client.scan_iter(match=f"{KEY_PREFIX}*", count=100))


class HeartbeatStep(bootsteps.StartStopStep):
    """Writes this worker's heartbeat every `WORKER_HEARTBEAT_SECONDS` while it runs."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        if not settings.REDIS_URL:
            return
        self.client = redis_client()
        self.beat(worker)
        self.tref = worker.timer.call_repeatedly(settings.WORKER_HEARTBEAT_SECONDS, self.beat, (worker,), priority=10)

    def beat(self, worker: Any) -> None:
        try:
            record_heartbeat(self.client, worker.hostname)
        except redis.RedisError as exc:
            # Redis being down must never crash a worker; the missing key tells /readyz.
            logger.warning("worker heartbeat not written: %s", exc)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
