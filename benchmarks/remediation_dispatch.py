"""Remediation dispatch latency: from a run's request committing to its claim on the host's worker,
beside a bare Celery round trip on the same broker and worker.

One real Celery worker (prefork, 2 processes, `DEBUG=0`, `DB_CONN_MAX_AGE=60` as `.env.example`
deploys it) consumes the host's queue on a scratch database. Sequentially, one at a time and
interleaved:

- the product: `services.run_request` of a dry run of `maintenance_mode` (cheap, needs no
  approval) on an incident, as the web side requests it. Its clock starts when the request's
  transaction commits (an on_commit callback registered before the product's own, so it runs
  first, before the message is sent) and stops when the claim's atomic UPDATE turned the row to
  running on the worker, noted by a trigger this script adds to its scratch database
  (PostgreSQL's clock_timestamp() in that statement). Shown beside it: `queued_at` (the send,
  noted in the request's transaction), `started_at` (the claim's own time, taken before it
  builds its UPDATE), the "Started" timeline entry written after the claim, and `finished_at`;
- the baseline: a bare no-op task (`benchmarks.escalation_probe.probe`) that notes when it
  started; its clock starts just before `apply_async`.

After each one the script waits for it to end, then leaves the worker idle for a moment, so
every measurement starts on an idle worker. Target: product median within 1.5x of the bare median
+ 10 ms. `--db-reuse-max N` overrides the worker's CELERY_DB_REUSE_MAX (0: a connection per task).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidentcenter REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/remediation_dispatch.py [--runs 200] [--db-reuse-max 0]

The scratch database is `<name of DATABASE_URL's database>_dispatch_scratch`, created and dropped.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import _django
import redis
from django.conf import settings
from django.db import connection, transaction

ROOT = _django.ROOT
IDLE_SECONDS = 0.05  # between measurements: the previous task has acknowledged and returned
WAIT_SECONDS = 30
POLL_SECONDS = 0.005


def start_worker(
    database_url: str, host_name: str, node: str, folder: Path, log: Path, conn_max_age: int, db_reuse_max: int | None
) -> subprocess.Popen[bytes]:
    # Celery's Django fixup closes the worker's database connection around every task unless
    # CELERY_DB_REUSE_MAX is set (the project sets 100; 0 turns it off, as Celery's default).
    reuse = {} if db_reuse_max is None else {"CELERY_DB_REUSE_MAX": str(db_reuse_max)}
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "INCIDENTCENTER_HOST": host_name,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "incidentcenter.settings",
        # As deployed: DEBUG off (with DEBUG a worker also keeps every query it ran).
        "DEBUG": "0",
        "SECRET_KEY": "remediation-dispatch-benchmark-only-key-not-a-secret-0123456789",
        "ALLOWED_HOSTS": "localhost",
        "MAINTENANCE_DIR": str(folder / "maintenance"),
        "BACKUP_DIR": str(folder / "backups"),
        "EVIDENCE_DIR": str(folder / "evidence"),
        "WEB_ROOT": str(folder / "www"),
        "LOG_LEVEL": "WARNING",
        "DB_CONN_MAX_AGE": str(conn_max_age),
        **reuse,
    }
    args = [
        str(ROOT / ".venv/bin/celery"), "-A", "incidentcenter", "worker", "--pool=prefork", "--concurrency=2",
        "-Q", f"host.{host_name}", "-n", f"{node}@%h", "--loglevel=WARNING", "--without-gossip",
        "--without-mingle", "--include", "benchmarks.escalation_probe",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    from incidentcenter.celery import app

    deadline = time.monotonic() + 90
    while not app.control.ping(destination=[f"{node}@{socket.gethostname()}"], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise SystemExit(f"the worker did not start:\n{log.read_text()[-3000:]}")
    return process


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(POLL_SECONDS)


# On the scratch database only: when the claim's UPDATE changed the row (PostgreSQL's
# clock_timestamp() inside that statement; its commit follows within a fraction of a millisecond).
CLAIM_TRIGGER = """
CREATE TABLE bench_claim (run_id bigint PRIMARY KEY, at timestamptz NOT NULL);
CREATE FUNCTION bench_claim_noted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_claim VALUES (NEW.id, clock_timestamp()) ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$;
CREATE TRIGGER bench_claim_noted AFTER UPDATE OF state ON remediation_actionrun FOR EACH ROW
    WHEN (OLD.state = 'queued' AND NEW.state = 'running') EXECUTE FUNCTION bench_claim_noted();
"""


class Product:
    """A dry run of maintenance_mode, requested as the web side does."""

    def __init__(self, host_name: str) -> None:
        from apps.accounts.models import User
        from apps.health.models import Host
        from apps.incidents.services import incident_declare

        self.user = User.objects.create_user("bench", role=User.Role.RESPONDER)
        self.host = Host.objects.create(name=host_name, services="nginx")
        self.incident = incident_declare(
            declared_by=self.user, title="Dispatch benchmark", scenario="system_outage", severity="sev2"
        )
        with connection.cursor() as cursor:
            cursor.execute(CLAIM_TRIGGER)

    def once(self) -> dict[str, float]:
        from apps.incidents.models import TimelineEntry
        from apps.remediation import services
        from apps.remediation.models import ActionRun

        committed: list[float] = []
        with transaction.atomic():
            # Registered before the product's own callbacks, so it runs first: the commit itself.
            transaction.on_commit(lambda: committed.append(time.time()))
            run = services.run_request(
                user=self.user,
                request=services.RunRequest(
                    action="maintenance_mode",
                    host=self.host,
                    params={"mode": "on", "message": "Benchmark"},
                    incident=self.incident,
                    dry_run=True,
                ),
            )
        finished = ActionRun.objects.filter(pk=run.pk, state__in=ActionRun.FINISHED_STATES)
        wait_until(finished.exists, f"run #{run.pk} to finish")
        run.refresh_from_db()
        if run.state != ActionRun.State.SUCCEEDED or run.started_at is None or run.queued_at is None:
            raise SystemExit(f"run #{run.pk} ended {run.state}: {run.summary}")
        started_entry = TimelineEntry.objects.get(incident=self.incident, summary__startswith="Started:",
                                                  summary__contains=f"(run #{run.pk})")  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("SELECT extract(epoch FROM at) FROM bench_claim WHERE run_id = %s", [run.pk])
            (claimed,) = cursor.fetchone()
        commit = committed[0]
        return {
            "sent": run.queued_at.timestamp() - commit,
            "claim": run.started_at.timestamp() - commit,
            "claimed": float(claimed) - commit,
            "started_entry": started_entry.created_at.timestamp() - commit,
            "finished": run.finished_at.timestamp() - commit if run.finished_at else float("nan"),
        }


class Bare:
    """A no-op task that pushes (its start - the given send time) to a Redis list."""

    def __init__(self, client: redis.Redis, queue: str) -> None:
        from benchmarks.escalation_probe import RESULTS_KEY

        self.client, self.queue, self.key = client, queue, RESULTS_KEY
        client.delete(RESULTS_KEY)

    def once(self) -> float:
        from benchmarks.escalation_probe import probe

        count = self.client.llen(self.key)
        sent = time.time()
        probe.apply_async(args=(sent,), queue=self.queue)
        wait_until(lambda: self.client.llen(self.key) > count, "the probe")
        return float(self.client.lindex(self.key, -1))  # type: ignore[arg-type]


def row(label: str, values: list[float]) -> str:
    ms = [value * 1000 for value in values]
    return (
        f"| {label} | {len(ms)} | {_django.percentile(ms, 0.5):.1f} | {_django.percentile(ms, 0.99):.1f} | "
        f"{statistics.mean(ms):.1f} | {max(ms):.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=60,
        help="the worker's DB_CONN_MAX_AGE (60 as in .env.example; 0 is the settings' default)",
    )
    parser.add_argument(
        "--db-reuse-max",
        type=int,
        default=None,
        help="the worker's CELERY_DB_REUSE_MAX (default: the project's, 100; 0: a new connection for every task)",
    )
    args = parser.parse_args()
    if not settings.USING_POSTGRES or not settings.REDIS_URL:
        raise SystemExit("remediation_dispatch needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    from benchmarks.escalation_probe import RESULTS_KEY

    client = redis.Redis.from_url(settings.REDIS_URL)
    host_name = f"bench-{uuid.uuid4().hex[:8]}"
    node = f"dispatchbench-{host_name}"
    queue = f"host.{host_name}"
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['NAME']}_dispatch_scratch"
    product: dict[str, list[float]] = {key: [] for key in ("sent", "claim", "claimed", "started_entry", "finished")}
    bare: list[float] = []
    with _django.scratch_database() as url, tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "worker.log"
        worker = start_worker(url, host_name, node, Path(folder), log, args.conn_max_age, args.db_reuse_max)
        try:
            ours, theirs = Product(host_name), Bare(client, queue)
            for index in range(args.warmup + args.runs):
                measured = ours.once()
                time.sleep(IDLE_SECONDS)
                baseline = theirs.once()
                time.sleep(IDLE_SECONDS)
                if index >= args.warmup:
                    for key, value in measured.items():
                        product[key].append(value)
                    bare.append(baseline)
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
            client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}", RESULTS_KEY)
            for key in client.scan_iter(match=f"incidentcenter:worker:{node}@*"):
                client.delete(key)
            connection.close()

    reuse_shown = "the project's (100)" if args.db_reuse_max is None else args.db_reuse_max
    print(
        f"Remediation dispatch: {args.runs} runs and {args.runs} bare tasks, sequential and interleaved, "
        f"after {args.warmup} of each to warm up; Redis broker, one worker (prefork, 2 processes, "
        f"DB_CONN_MAX_AGE={args.conn_max_age}, CELERY_DB_REUSE_MAX={reuse_shown})"
    )
    print("| from the send (bare) / the request's commit (runs) to | n | p50 ms | p99 ms | mean ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(row("bare no-op task started", bare))
    print(row("run: send noted (`queued_at`, just before the commit)", product["sent"]))
    print(row("run: claim began on the worker (`started_at`)", product["claim"]))
    print(row("**run: claim's UPDATE done (running)**", product["claimed"]))
    print(row('run: "Started" on the incident\'s timeline', product["started_entry"]))
    print(row("run: finished (dry run, `finished_at`)", product["finished"]))
    bare_p50 = _django.percentile(bare, 0.5) * 1000
    target = 1.5 * bare_p50 + 10
    ours_p50 = _django.percentile(product["claimed"], 0.5) * 1000
    verdict = "met" if ours_p50 <= target else "MISSED"
    print(f"median request -> running {ours_p50:.1f} ms; target 1.5 x {bare_p50:.1f} + 10 = {target:.1f} ms: {verdict}")
    if ours_p50 > target:
        sys.exit(1)


if __name__ == "__main__":
    main()
