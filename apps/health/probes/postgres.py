"""The protected system's PostgreSQL (TARGET_DATABASE_URL), like the seed's pg_database_size and
pg_stat_activity checks."""

from __future__ import annotations

import time

import psycopg
from django.conf import settings

from apps.health.models import STATE_RANK, Host, Probe, State
from apps.health.probes import Reading
from apps.health.thresholds import grade

CONNECT_TIMEOUT_SECONDS = 3

STATS_SQL = """
SELECT pg_database_size(current_database()),
       current_setting('max_connections')::int,
       (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database())
"""
BY_STATE_SQL = """
SELECT coalesce(state, 'background'), count(*) FROM pg_stat_activity
WHERE datname = current_database() GROUP BY 1 ORDER BY 2 DESC
"""
LONGEST_SQL = """
SELECT pid, usename, extract(epoch FROM now() - query_start)::float, left(query, 200)
FROM pg_stat_activity
WHERE state = 'active' AND pid <> pg_backend_pid() AND query_start IS NOT NULL AND datname = current_database()
ORDER BY query_start LIMIT 1
"""


def probe(host: Host) -> Reading:
    url = settings.TARGET_DATABASE_URL
    if not url:
        return Reading(Probe.POSTGRES, State.UNKNOWN, summary="TARGET_DATABASE_URL is not configured")
    started = time.perf_counter()
    try:
        connection = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True)
    except psycopg.Error as exc:
        return Reading(Probe.POSTGRES, State.CRITICAL, summary="unreachable", error=str(exc).strip()[:500],
                       data={"reachable": False})  # fmt: skip
    with connection:
        connection.execute("SET statement_timeout = '5s'")
        connection.execute("SELECT 1").fetchone()
        response_ms = round((time.perf_counter() - started) * 1000, 1)
        size, max_connections, waiting = connection.execute(STATS_SQL).fetchone() or (0, 100, 0)
        by_state: dict[str, int] = dict(connection.execute(BY_STATE_SQL).fetchall())
        longest_row = connection.execute(LONGEST_SQL).fetchone()
    connections = sum(by_state.values())
    longest = (
        {"pid": longest_row[0], "user": longest_row[1], "seconds": round(longest_row[2], 1), "query": longest_row[3]}
        if longest_row
        else None
    )
    states = [
        grade(response_ms, host.thresholds, "postgres_ms"),
        grade(100 * connections / max(max_connections, 1), host.thresholds, "postgres_connections"),
        grade(longest["seconds"] if longest else 0.0, host.thresholds, "postgres_longest_query_s"),
        State.WARNING if waiting else State.OK,
    ]
    return Reading(
        Probe.POSTGRES,
        max(states, key=lambda s: STATE_RANK[s]),
        response_ms,
        f"{response_ms:.0f} ms, {connections} connections, {size / 1024 / 1024:.0f} MB",
        {
            "reachable": True,
            "response_ms": response_ms,
            "size_bytes": size,
            "connections": connections,
            "max_connections": max_connections,
            "by_state": by_state,
            "waiting_on_locks": waiting,
            "longest_query": longest,
        },
    )
