"""The baseline of `escalation_timing.py`: a bare Celery task that only notes how late it ran.

Loaded into the benchmark's worker with `--include benchmarks.escalation_probe`.
"""

from __future__ import annotations

import time

import redis
from celery import shared_task
from django.conf import settings

RESULTS_KEY = "incidentcenter:bench:probe"


@shared_task(ignore_result=True)
def probe(due_epoch: float) -> None:
    ran = time.time()
    redis.Redis.from_url(settings.REDIS_URL).rpush(RESULTS_KEY, f"{ran - due_epoch:.6f}")
