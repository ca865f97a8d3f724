"""Board cost by number of incidents: queries and time per request at 10 and 1,000 incidents.

The board's query count must not grow with its rows; this measures it (and the render time)
against the same page with 10 incidents as the baseline, in one run, on a scratch test database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidentcenter make bench
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "incidentcenter.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

REQUESTS = 30


def add_incidents(count: int, declarer: object) -> None:
    from apps.incidents.models import ChecklistItem, Incident, Severity
    from apps.runbooks.models import Runbook, Scenario

    now = timezone.now()
    scenarios, severities = list(Scenario.values), list(Severity.values)
    incidents = Incident.objects.bulk_create(
        Incident(
            title=f"Benchmark incident {i}",
            scenario=scenarios[i % len(scenarios)],
            severity=severities[i % len(severities)],
            declared_by=declarer,
            commander=declarer,
            declared_at=now,
            noticed_at=now,
            status_changed_at=now,
        )
        for i in range(count)
    )
    ChecklistItem.objects.bulk_create(
        ChecklistItem(incident=incident, position=p, phase=Runbook.Kind.SCENARIO, title=f"Step {p}")
        for incident in incidents
        for p in range(1, 14)
    )


class QueryCounter:
    """Counts every query the request runs, across reconnects (CONN_MAX_AGE=0 closes per request)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.count += 1
        return execute(sql, params, many, context)


def measure(client: Client) -> tuple[int, float, float]:
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        response = client.get("/")
    assert response.status_code == 200, response.status_code
    timings = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        client.get("/")
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return counter.count, statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def main() -> None:
    from apps.accounts.models import User
    from apps.runbooks.services import procedures_load

    # Not setup_test_environment(): its template instrumentation would slow every render.
    settings.ALLOWED_HOSTS.append("testserver")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        procedures_load()
        user = User.objects.create_user("bench", role=User.Role.RESPONDER)
        client = Client()
        client.force_login(user)
        rows = []
        total = 0
        for target in (10, 1000):
            add_incidents(target - total, user)
            total = target
            rows.append((target, *measure(client)))
        print(f"Board (GET /) on {connection.vendor}, {REQUESTS} requests each")
        print(f"{'active incidents':>17} {'queries':>8} {'median ms':>10} {'p95 ms':>8}")
        for count, queries, median, p95 in rows:
            print(f"{count:>17} {queries:>8} {median:>10.1f} {p95:>8.1f}")
        baseline, large = rows
        verdict = "constant" if baseline[1] == large[1] else "GROWS"
        print(f"query count: {baseline[1]} at 10 vs {large[1]} at 1,000 ({verdict})")
        if baseline[1] != large[1]:
            sys.exit(1)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
