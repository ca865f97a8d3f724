"""Default ok / warning / critical thresholds; a host's `thresholds` field overrides any of them.

Each entry is (warning_at, critical_at): a value at or above warning_at is a warning, at or
above critical_at is critical. For "higher is better" figures (certificate days left) the probe
inverts the comparison.
"""

from __future__ import annotations

from typing import Any

from apps.health.models import State

DEFAULTS: dict[str, tuple[float, float]] = {
    "cpu": (80, 95),  # % of all cores
    "load": (1.5, 3.0),  # 1-minute load per core
    "memory": (85, 95),  # % used
    "swap": (50, 80),  # % used
    "disk": (85, 95),  # % used, worst filesystem
    "postgres_ms": (200, 1000),  # round trip of SELECT 1
    "postgres_connections": (80, 95),  # % of max_connections
    "postgres_longest_query_s": (60, 300),
    "redis_memory": (80, 95),  # % of maxmemory, when set
    "website_ms": (1000, 5000),
    "certificate_days": (14, 3),  # fewer days left is worse
    "backup_age_hours": (26, 50),
}


def limits(host_thresholds: dict[str, Any] | None, key: str) -> tuple[float, float]:
    override = (host_thresholds or {}).get(key)
    if isinstance(override, list | tuple) and len(override) == 2:
        try:
            return float(override[0]), float(override[1])
        except (TypeError, ValueError):
            pass
    return DEFAULTS[key]


def grade(value: float | None, host_thresholds: dict[str, Any] | None, key: str) -> State:
    if value is None:
        return State.UNKNOWN
    warning, critical = limits(host_thresholds, key)
    if warning <= critical:
        if value >= critical:
            return State.CRITICAL
        return State.WARNING if value >= warning else State.OK
    # Lower is worse (e.g. certificate days left).
    if value <= critical:
        return State.CRITICAL
    return State.WARNING if value <= warning else State.OK


def validate_overrides(value: Any) -> list[str]:
    """Problems with a host's threshold overrides, in words (empty when valid)."""
    if not isinstance(value, dict):
        return ['Thresholds must be an object such as {"cpu": [70, 90]}.']
    problems = []
    for key, pair in value.items():
        if key not in DEFAULTS:
            problems.append(f"Unknown threshold {key!r}; known: {', '.join(sorted(DEFAULTS))}.")
        elif not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(n, int | float) for n in pair)):
            problems.append(f"{key} must be [warning, critical], two numbers.")
        elif _lower_is_worse(key) and pair[0] < pair[1]:
            # grade() tells the direction from the order of the pair: a reversed pair would
            # silently turn "fewer days left is worse" into "more is worse", and vice versa.
            problems.append(f"{key}: fewer is worse, so the warning level must not be below the critical level.")
        elif not _lower_is_worse(key) and pair[0] > pair[1]:
            problems.append(f"{key}: the warning level must not be above the critical level.")
    return problems


def _lower_is_worse(key: str) -> bool:
    warning, critical = DEFAULTS[key]
    return warning > critical
