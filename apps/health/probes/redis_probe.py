"""Redis (the broker and channel layer): reachable, memory used, connected clients."""

from __future__ import annotations

import functools

import redis
from django.conf import settings

from apps.health.models import Host, Probe, State
from apps.health.probes import Reading
from apps.health.thresholds import grade


@functools.cache
def _client(url: str) -> redis.Redis:
    # One pooled client per worker process: a new one every 5 seconds cost more than the probe.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def probe(host: Host) -> Reading:
    if not settings.REDIS_URL:
        return Reading(Probe.REDIS, State.UNKNOWN, summary="not configured (embedded mode)")
    try:
        info = _client(settings.REDIS_URL).info()
    except redis.RedisError as exc:
        return Reading(Probe.REDIS, State.CRITICAL, summary="unreachable", error=str(exc)[:500],
                       data={"reachable": False})  # fmt: skip
    used = int(info.get("used_memory", 0))
    maximum = int(info.get("maxmemory", 0))
    percent = round(100 * used / maximum, 1) if maximum else None
    state = grade(percent, host.thresholds, "redis_memory") if percent is not None else State.OK
    return Reading(
        Probe.REDIS,
        state,
        round(used / 1024 / 1024, 1),
        f"{used / 1024 / 1024:.1f} MB, {info.get('connected_clients', 0)} clients",
        {
            "reachable": True,
            "used_memory": used,
            "maxmemory": maximum,
            "connected_clients": info.get("connected_clients", 0),
            "version": info.get("redis_version", ""),
        },
    )
