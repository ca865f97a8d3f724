"""The incident page with 5,000 timeline events, against the same page before the timeline was
typed (text entries), measured in one run.

The baseline is the last commit with the text timeline (`BASELINE_REV`, or --baseline REV),
checked out into a temporary git worktree. Each tree runs the same child: a scratch database, one
incident with 5,000 history rows of a realistic mix (notes, status changes, ticked steps,
notifications, action runs on a host), then GET /incidents/<n>/ repeatedly. Target: the typed page
within 1.5x of the text page's median, and a query count that does not grow with the events.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidentcenter .venv/bin/python benchmarks/timeline_page.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE_REV = "ab8a378"  # the text timeline's last commit
EVENTS = 5000
REQUESTS = 15


def _child(tree: Path) -> dict[str, Any]:
    sys.path.insert(0, str(tree))
    os.chdir(tree)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "incidentcenter.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from apps.accounts.models import User
    from apps.incidents import models as incident_models
    from apps.incidents.services import incident_declare
    from apps.runbooks.services import procedures_load

    settings.ALLOWED_HOSTS.append("testserver")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        procedures_load()
        user = User.objects.create_user("bench", role=User.Role.RESPONDER, first_name="Bea", last_name="Bench")
        incident = incident_declare(declared_by=user, title="Bench", scenario="database_failure", severity="sev1")
        runs = _runs(incident, user)
        items = list(incident.checklist.all())
        typed = hasattr(incident_models, "TimelineEvent")
        rows = _typed_rows(incident, user, runs, items) if typed else _text_rows(incident, user, runs, items)
        model = incident_models.TimelineEvent if typed else incident_models.TimelineEntry
        model.objects.bulk_create(rows, batch_size=1000)
        client = Client()
        client.force_login(user)
        url = f"/incidents/{incident.pk}/"

        queries = 0

        def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            first = client.get(url)
        assert first.status_code == 200, first.status_code
        timings = []
        for _ in range(REQUESTS):
            start = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        timings.sort()
        return {
            "typed": typed,
            "rows": model.objects.filter(incident=incident).count(),
            "queries": queries,
            "median_ms": statistics.median(timings),
            "p95_ms": timings[int(len(timings) * 0.95) - 1],
            "bytes": len(first.content),
        }
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _runs(incident: Any, user: Any) -> list[Any]:
    from apps.health.models import Host
    from apps.remediation.models import ActionRun

    host = Host.objects.create(name="bench-web")
    return ActionRun.objects.bulk_create(
        ActionRun(action="backup_database", host=host, incident=incident, requested_by=user, params={"label": "b"})
        for _ in range(50)
    )


def _text_rows(incident: Any, user: Any, runs: list[Any], items: list[Any]) -> list[Any]:
    from apps.incidents.models import TimelineEntry

    rows = []
    for i in range(EVENTS):
        kind, summary, body = "note", f"Note: line {i}", f"Line {i}\n\nSome **detail** about step {i}."
        if i % 5 == 1:
            kind, summary, body = "status", "Status: Investigating → Mitigating", ""
        elif i % 5 == 2:
            kind, summary, body = "checklist", f"Done: {items[i % len(items)].title}", ""
        elif i % 5 == 3:
            kind, summary, body = "notification", "Notified Dee DBA (Database Administrator) by phone call", ""
        elif i % 5 == 4:
            run = runs[i % len(runs)]
            kind, summary, body = "action", f"Approved: Back up the database on bench-web (run #{run.pk})", ""
        rows.append(TimelineEntry(incident=incident, kind=kind, author=user, summary=summary, body=body))
    return rows


def _typed_rows(incident: Any, user: Any, runs: list[Any], items: list[Any]) -> list[Any]:
    from apps.incidents.models import EventKind, TimelineEvent

    rows = []
    for i in range(EVENTS):
        event = TimelineEvent(incident=incident, actor=user, kind=EventKind.NOTE_ADDED)
        if i % 5 == 0:
            event.body = f"Line {i}\n\nSome **detail** about step {i}."
        elif i % 5 == 1:
            event.kind, event.data = EventKind.STATUS_CHANGED, {"from": "investigating", "to": "mitigating"}
        elif i % 5 == 2:
            item = items[i % len(items)]
            event.kind, event.item, event.data = EventKind.STEP_DONE, item, {"title": item.title}
        elif i % 5 == 3:
            event.kind = EventKind.NOTIFICATION_RECORDED
            event.data = {"recipient": "Dee DBA (Database Administrator)", "method": "phone", "note": ""}
        else:
            event.kind, event.run = EventKind.RUN_APPROVED, runs[i % len(runs)]
        rows.append(event)
    return rows


def _run_child(tree: Path, database: str) -> dict[str, Any]:
    env = {**os.environ, "DEBUG": "1", "VAR_DIR": tempfile.mkdtemp(prefix="bench-var-")}
    if database:
        env["DATABASE_URL"] = database
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(tree)],
        env=env,
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--baseline", default=BASELINE_REV)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(Path(args.child))))
        return
    database = os.environ.get("DATABASE_URL", "")
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as folder:
        worktree = Path(folder) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.baseline],
            check=True,
            capture_output=True,
        )
        try:
            text = _run_child(worktree, database)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)
    typed = _run_child(ROOT, database)
    print(
        f"Incident page with {EVENTS:,} timeline rows ({REQUESTS} requests each, {database.split(':')[0] or 'sqlite'})"
    )
    print(f"{'':>22} {'queries':>8} {'median ms':>10} {'p95 ms':>8} {'kB':>6}")
    for name, result in (("text entries (before)", text), ("typed events (now)", typed)):
        kilobytes = result["bytes"] / 1024
        print(
            f"{name:>22} {result['queries']:>8} {result['median_ms']:>10.1f} {result['p95_ms']:>8.1f} {kilobytes:>6.0f}"
        )
    ratio = typed["median_ms"] / text["median_ms"]
    print(f"typed / text median: {ratio:.2f}x (target within 1.5x): {'met' if ratio <= 1.5 else 'NOT met'}")
    if ratio > 1.5:
        sys.exit(1)


if __name__ == "__main__":
    main()
