"""Probes: each measures one thing on the host it runs on and returns a `Reading`.

A probe never raises: a failure (unreachable database, bad URL, permission denied) becomes a
reading in the ERROR state with the message, so one broken probe never stops the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.health.models import Host, Probe, State

logger = logging.getLogger(__name__)


@dataclass
class Reading:
    probe: str
    state: str
    value: float | None = None
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""


ProbeFunction = Callable[[Host], Reading]


def safely(probe: str, function: ProbeFunction, host: Host) -> Reading:
    started = time.perf_counter()
    try:
        reading = function(host)
    except Exception as exc:  # a probe must never take the others down
        logger.warning("probe %s failed on %s: %s", probe, host.name, exc)
        reading = Reading(probe=probe, state=State.ERROR, error=f"{type(exc).__name__}: {exc}"[:500])
    reading.data.setdefault("probe_ms", round((time.perf_counter() - started) * 1000, 1))
    return reading


def periodic_probes() -> dict[str, ProbeFunction]:
    """The probes sampled every interval, in display order."""
    from apps.health.probes import backups, postgres, redis_probe, service_units, system, website

    return {
        Probe.CPU: system.cpu,
        Probe.LOAD: system.load,
        Probe.MEMORY: system.memory,
        Probe.SWAP: system.swap,
        Probe.DISK: system.disks,
        Probe.UPTIME: system.uptime,
        Probe.PROCESSES: system.top_processes,
        Probe.POSTGRES: postgres.probe,
        Probe.REDIS: redis_probe.probe,
        Probe.SERVICES: service_units.probe,
        Probe.WEBSITE: website.probe,
        Probe.BACKUPS: backups.probe,
    }


# The process table is the costliest probe (a walk over /proc, about a third of a round's CPU);
# it is read every other round, which keeps its widget fresh well within the staleness limit.
_processes_read_at: dict[str, float] = {}


def sample_all(host: Host) -> list[Reading]:
    now = time.monotonic()
    readings = []
    for name, function in periodic_probes().items():
        if name == Probe.PROCESSES:
            last = _processes_read_at.get(host.name)
            if last is not None and now - last < 2 * settings.HEALTH_SAMPLE_SECONDS - 0.5:
                continue
            _processes_read_at[host.name] = now
        readings.append(safely(name, function, host))
    return readings
