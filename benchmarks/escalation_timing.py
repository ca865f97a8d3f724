"""Escalation timing: how late are pages sent, beside bare Celery countdown tasks?

Schedules 500 escalation steps due over one minute, each paging its own contact through a chat
webhook served here, on the real Redis broker and a real Celery worker, through the engine's own
scheduling (`schedule_step`: the step row, then its message with a countdown after commit). In the
same run, on the same worker, 500 bare Celery tasks with the same countdowns note how late they
ran. Lateness of a page = when its webhook POST arrived here - when its step was due.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidentcenter REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/escalation_timing.py

Targets: p99 lateness under 2 s, and within 2x of the bare tasks' p99. It works on a scratch
database that it creates and drops, and stops the worker it starts.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "incidentcenter.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

BASE_DIR = Path(__file__).resolve().parent.parent
STEPS = int(os.environ.get("BENCH_STEPS", "500"))
SPREAD_SECONDS = float(os.environ.get("BENCH_SPREAD_SECONDS", "60"))
LEAD_SECONDS = 15.0  # the first step is due this long after scheduling starts
WORKER_NAME = f"escalationbench@{socket.gethostname()}"


class Arrivals:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: dict[int, list[float]] = {}

    def add(self, key: int, when: float) -> None:
        with self.lock:
            self.at.setdefault(key, []).append(when)

    def count(self) -> int:
        with self.lock:
            return len(self.at)


def serve_webhooks(arrivals: Arrivals) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            when = time.time()
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrivals.add(int(self.path.rsplit("/", 1)[1]), when)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def start_worker(database_name: str, log: Path) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database_name}",
        "PYTHONPATH": str(BASE_DIR),
        "HEALTH_SAMPLE_SECONDS": "3600",
        # As deployed: DEBUG off (with DEBUG a worker also keeps every query it ran).
        "DEBUG": "0",
        "SECRET_KEY": "escalation-timing-benchmark-only-key-not-a-secret-0123456789",
        "ALLOWED_HOSTS": "localhost",
        # The webhooks it pages are this benchmark's server on 127.0.0.1.
        "OUTBOUND_ALLOW_PRIVATE": "1",
    }
    args = [
        str(BASE_DIR / ".venv/bin/celery"), "-A", "incidentcenter", "worker", "-Q", "default", "-n",
        "escalationbench@%h", "--concurrency=4", "--loglevel=INFO", "--without-gossip", "--without-mingle",
        "--include", "benchmarks.escalation_probe",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    from incidentcenter.celery import app

    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[WORKER_NAME], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start:\n{log.read_text()[-3000:]}")
    return process


def create_escalations(hook_url: str) -> list[int]:
    """500 incidents, each with its own one-level path and contact, whose escalation has run its
    first step: what is left is the step that pages, scheduled below."""
    from apps.accounts.models import User
    from apps.contacts.models import Contact, ContactRole
    from apps.incidents.models import Incident
    from apps.paging.models import Channel, Escalation, PathLevel

    now = timezone.now()
    user = User.objects.create_user("bench", role=User.Role.RESPONDER)
    incidents = Incident.objects.bulk_create(
        Incident(title=f"Bench {i}", scenario="database_failure", severity="sev2", declared_by=user,
                 declared_at=now, noticed_at=now, status_changed_at=now)
        for i in range(STEPS)
    )  # fmt: skip
    roles = ContactRole.objects.bulk_create(ContactRole(name=f"On call {i}") for i in range(STEPS))
    contacts = Contact.objects.bulk_create(
        Contact(role=role, name=f"Person {i}", primary_contact="+44 20 7946 0000") for i, role in enumerate(roles)
    )
    escalations = Escalation.objects.bulk_create(
        Escalation(incident=incident, started_at=now, start_level=1, repeats=0) for incident in incidents
    )
    PathLevel.objects.bulk_create(
        PathLevel(escalation=e, position=1, role=role, role_name=role.name, ack_timeout_seconds=3600)
        for e, role in zip(escalations, roles, strict=True)
    )
    Channel.objects.bulk_create(
        Channel(contact=contact, kind=Channel.Kind.WEBHOOK, address=f"{hook_url}/hook/{incident.pk}")
        for contact, incident in zip(contacts, incidents, strict=True)
    )
    return [incident.pk for incident in incidents]


def schedule(incident_ids: list[int]) -> dict[int, float]:
    """Each escalation's paging step, due over the minute, scheduled by the engine; the bare tasks
    with the same countdowns. Returns each incident's due time (epoch seconds)."""
    from apps.paging.models import Escalation, EscalationStep
    from apps.paging.services.escalation import schedule_step
    from benchmarks.escalation_probe import probe

    began = time.time()
    start = began + LEAD_SECONDS
    due: dict[int, float] = {}
    escalations = {e.incident_id: e for e in Escalation.objects.filter(incident_id__in=incident_ids)}
    for index, incident_id in enumerate(incident_ids):
        due_epoch = start + index * SPREAD_SECONDS / STEPS
        due[incident_id] = due_epoch
        now = timezone.now()
        due_at = now + timedelta(seconds=due_epoch - time.time())
        with transaction.atomic():
            escalation = escalations[incident_id]
            step = EscalationStep.objects.create(
                escalation=escalation,
                number=2,
                kind=EscalationStep.Kind.TIMEOUT,
                first_level=1,
                last_level=1,
                due_at=due_at,
            )
            schedule_step(escalation, step)
        probe.apply_async(args=(due_epoch,), countdown=max(0.0, due_epoch - time.time()))
        if time.time() > due_epoch:
            raise SystemExit(f"scheduling fell behind at step {index}: this machine is too busy to measure")
    print(f"scheduled in {time.time() - began:.1f} s; the first step is due {LEAD_SECONDS:.0f} s after the start")
    return due


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    from benchmarks.escalation_probe import RESULTS_KEY
    from incidentcenter.celery import app

    if not settings.USING_POSTGRES or not settings.REDIS_URL:
        raise SystemExit("escalation_timing needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(RESULTS_KEY)
    app.control.purge()
    arrivals = Arrivals()
    httpd, hook_url = serve_webhooks(arrivals)
    old_name = connection.settings_dict["NAME"]
    test_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    log = BASE_DIR / "var" / "escalation_timing_worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    worker = start_worker(test_name, log)
    try:
        incident_ids = create_escalations(hook_url)
        connection.close()
        due = schedule(incident_ids)
        deadline = time.time() + LEAD_SECONDS + SPREAD_SECONDS + 60
        while (arrivals.count() < STEPS or client.llen(RESULTS_KEY) < STEPS) and time.time() < deadline:
            time.sleep(0.5)
        from apps.paging.models import EscalationStep, Page

        pages = Page.objects.count()
        started = [
            (step.ran_at - step.due_at).total_seconds()
            for step in EscalationStep.objects.filter(number=2, ran_at__isnull=False).only("ran_at", "due_at")
        ]
        doubled = sum(1 for at in arrivals.at.values() if len(at) > 1)
        ours = [min(at) - due[key] for key, at in arrivals.at.items()]
        bare = [float(v) for v in client.lrange(RESULTS_KEY, 0, -1)]
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        app.control.purge()
        client.delete(RESULTS_KEY, "unacked", "unacked_index", "unacked_mutex")
        httpd.shutdown()
        connection.creation.destroy_test_db(old_name, verbosity=0)

    print(
        f"Escalation timing: {STEPS} steps due over {SPREAD_SECONDS:.0f} s, Redis broker, "
        "one worker (prefork, 4 processes)"
    )
    print(
        f"pages received {len(ours)}/{STEPS} (page rows {pages}, sent twice {doubled}); bare tasks {len(bare)}/{STEPS}"
    )
    print(f"{'lateness':>24} {'p50 s':>8} {'p99 s':>8} {'max s':>8} {'mean s':>8}")
    rows = (("escalation pages (sent)", ours), ("  their steps (started)", started), ("bare countdown tasks", bare))
    for label, values in rows:
        if values:
            print(
                f"{label:>24} {percentile(values, 0.5):>8.3f} {percentile(values, 0.99):>8.3f} "
                f"{max(values):>8.3f} {statistics.mean(values):>8.3f}"
            )
    # Where in the minute the late ones were: the p99 of each tenth of the schedule.
    first_due = min(due.values())
    ours_by_due = sorted((due[key] - first_due, min(at) - due[key]) for key, at in arrivals.at.items())
    windows = []
    for tenth in range(10):
        late = [v for t, v in ours_by_due if tenth * SPREAD_SECONDS / 10 <= t < (tenth + 1) * SPREAD_SECONDS / 10]
        windows.append(f"{percentile(late, 0.99):.2f}" if late else "-")
    print("escalation pages, p99 by tenth of the minute:", " ".join(windows))
    every_page_once = len(ours) == STEPS and len(bare) == STEPS and doubled == 0 and pages == STEPS
    under_two_seconds = bool(ours) and percentile(ours, 0.99) < 2.0
    bare_p99 = percentile(bare, 0.99) if bare else 0.0
    ratio = percentile(ours, 0.99) / bare_p99 if ours and bare_p99 else float("inf")
    start_ratio = percentile(started, 0.99) / bare_p99 if started and bare_p99 else float("inf")
    print(f"every page sent once: {'met' if every_page_once else 'MISSED'}")
    print(f"p99 of pages under 2 s: {'met' if under_two_seconds else 'MISSED'}")
    print(f"p99 of pages within 2x of the bare tasks': {'met' if ratio <= 2 else 'MISSED'} ({ratio:.1f}x)")
    print(
        f"p99 of steps started within 2x of the bare tasks': {'met' if start_ratio <= 2 else 'MISSED'} "
        f"({start_ratio:.1f}x)"
    )
    if not (every_page_once and under_two_seconds and ratio <= 2):
        sys.exit(1)


if __name__ == "__main__":
    main()
