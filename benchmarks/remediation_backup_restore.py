"""Backup and restore of a 1 GB database: the product's actions beside plain pg_dump/pg_restore.

A protected database of at least 1 GB (`ic_target_bench_<random>`: one table of generated rows
with 384 characters of md5 text each, a primary key and a secondary index) is dumped and restored
with the plain commands (the baseline) and with `backup_database` and `restore_database` run
through the product's executor in this process (requested with the services, the restore
approved by a second user, as a worker runs them; the Celery message is not sent: this process is
the worker). Incident Center's own tables live on a scratch database created and dropped here.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ic_db .venv/bin/python benchmarks/remediation_backup_restore.py

BENCH_GB (default 1.0) sets the size, BENCH_ROUNDS (default 1) how often each is timed (the best
is reported). Takes about 5 minutes at 1 GB on 2 cores.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _django
import psycopg
from django.conf import settings
from django.test import override_settings
from psycopg import sql

SERVER = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
GB = float(os.environ.get("BENCH_GB", "1.0"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
ROW_BYTES = 450  # on disk, with its tuple header and the index entries' share, measured


def admin(dbname: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(**SERVER, dbname=dbname, autocommit=True)


def build_target(name: str) -> int:
    """Fill `name` with at least BENCH_GB of rows; its size in bytes."""
    rows = int(GB * 1024**3 / ROW_BYTES) + 1
    payload = " || ".join(f"md5((g * {k})::text)" for k in range(1, 13))
    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    with admin(name) as conn:
        conn.execute(
            "CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz NOT NULL, account int NOT NULL, payload text)"
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO events SELECT g, timestamptz '2026-01-01' + g * interval '1 second', g %% 50000, {} "
                "FROM generate_series(1, %s) AS g"
            ).format(sql.SQL(payload)),
            [rows],
        )
        conn.execute("CREATE INDEX events_account ON events (account)")
        conn.execute("VACUUM ANALYZE events")
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


def drop(name: str) -> None:
    with admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = work()
    return time.perf_counter() - started, value


def plain(argv: list[str], dbname: str) -> None:
    env = {**os.environ, "PGHOST": SERVER["host"], "PGPORT": SERVER["port"], "PGUSER": SERVER["user"]}
    subprocess.run([*argv], env={**env, "PGDATABASE": dbname}, check=True, stdin=subprocess.DEVNULL)


def phases(run: Any) -> None:
    """Where a run's time went: from each step line of its log to the next (to 0.2 s: lines are
    stored in batches)."""
    steps = list(run.log_lines.filter(stream="step").values_list("at", "text"))
    for (at, text), end in zip(steps, [*(at for at, _ in steps[1:]), run.finished_at], strict=True):
        print(f"    {(end - at).total_seconds():6.1f} s  {text[:90]}")


def main() -> None:
    from apps.accounts.models import User
    from apps.core import jobs
    from apps.health.models import Host
    from apps.remediation import executor, services
    from apps.remediation.models import ActionRun, Artifact

    if settings.REDIS_URL:
        raise SystemExit("Run it without REDIS_URL: this process is the worker.")

    target = f"ic_target_bench_{secrets.token_hex(4)}"
    folder = Path(tempfile.mkdtemp(prefix="ic_target_bench_"))
    baseline_file = folder / "baseline.dump"
    try:
        print(f"Building {target} ({GB:.1f} GB)…", flush=True)
        build_seconds, size = timed(lambda: build_target(target))
        print(f"  {size / 1024**3:.2f} GiB in {build_seconds:.0f} s", flush=True)
        url = f"postgres://{SERVER['user']}@{SERVER['host']}:{SERVER['port']}/{target}"
        # This process is the worker: the runs' messages are kept, not sent (without REDIS_URL
        # the embedded runner would race the executor below for each run).
        with override_settings(TARGET_DATABASE_URL=url, BACKUP_DIR=folder / "backups"), jobs.captured():
            responder = User.objects.create_user("bench-responder", role=User.Role.RESPONDER)
            manager = User.objects.create_user("bench-manager", role=User.Role.MANAGER)
            host = Host.objects.create(name=settings.INCIDENTCENTER_HOST, description="bench")

            def product(action: str, params: dict[str, Any]) -> ActionRun:
                run = services.run_request(
                    user=responder, request=services.RunRequest(action=action, host=host, params=params)
                )
                if run.state == ActionRun.State.AWAITING_APPROVAL:
                    services.run_approve(run_id=run.pk, user=manager)
                executor.execute(run.pk)
                run.refresh_from_db()
                if run.state != ActionRun.State.SUCCEEDED or not run.verified:
                    raise SystemExit(f"{action} run #{run.pk} did not succeed verified: {run.summary}")
                return run

            figures: dict[str, list[float]] = {}
            notes: dict[str, Any] = {}
            for _ in range(ROUNDS):
                seconds, _ = timed(lambda: plain(["pg_dump", "--format=custom", f"--file={baseline_file}"], target))
                figures.setdefault("pg_dump", []).append(seconds)
                print(f"  pg_dump: {seconds:.1f} s ({baseline_file.stat().st_size / 1024**2:.0f} MiB)", flush=True)

                seconds, run = timed(lambda: product("backup_database", {"label": "bench"}))
                figures.setdefault("backup_database", []).append(seconds)
                backup_name = run.result["file"]
                notes["dump_mib"] = run.result["size"] / 1024**2
                print(
                    f"  backup_database: {seconds:.1f} s (pg_dump inside: {run.result['duration_seconds']:.1f} s)",
                    flush=True,
                )

                seconds, _ = timed(
                    lambda: plain(
                        ["pg_restore", "--clean", "--if-exists", f"--dbname={target}", str(baseline_file)], target
                    )
                )
                figures.setdefault("pg_restore", []).append(seconds)
                print(f"  pg_restore: {seconds:.1f} s", flush=True)

                restore = {"backup": backup_name}
                seconds, run = timed(lambda: product("restore_database", restore))  # noqa: B023 (called at once)
                safety = float(run.result["safety_backup_seconds"])
                figures.setdefault("restore_database", []).append(seconds)
                figures.setdefault("restore_database_without_safety", []).append(seconds - safety)
                figures.setdefault("restore_inside", []).append(float(run.result["restore_seconds"]))
                notes["rows"] = run.result["total_rows"]
                print(
                    f"  restore_database: {seconds:.1f} s (safety backup {safety:.1f} s, "
                    f"pg_restore inside {run.result['restore_seconds']:.1f} s)",
                    flush=True,
                )
                phases(run)
                # Keep the disk bounded: the backups of this round are no longer needed.
                for artifact in Artifact.objects.all():
                    (folder / "backups" / artifact.name).unlink(missing_ok=True)
                Artifact.objects.all().delete()

        best = {name: min(values) for name, values in figures.items()}
        print()
        print(
            f"Database {size / 1024**3:.2f} GiB ({notes['rows']:,} rows), dump {notes['dump_mib']:.0f} MiB, "
            f"best of {ROUNDS} round(s)"
        )
        print(f"{'':38} {'seconds':>8} {'ratio':>6}")
        rows = [
            ("pg_dump --format=custom (baseline)", best["pg_dump"], None),
            ("backup_database", best["backup_database"], best["pg_dump"]),
            ("pg_restore --clean --if-exists (baseline)", best["pg_restore"], None),
            ("restore_database (all of it)", best["restore_database"], best["pg_restore"]),
            ("restore_database without safety backup", best["restore_database_without_safety"], best["pg_restore"]),
            ("  of which pg_restore", best["restore_inside"], best["pg_restore"]),
        ]
        for label, seconds, base in rows:
            ratio = f"{seconds / base:.2f}x" if base else ""
            print(f"{label:42} {seconds:>8.1f} {ratio:>6}")
    finally:
        drop(target)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    # A scratch name of its own: other runs on this server may use the default test_<NAME>.
    _django.connection.settings_dict["TEST"]["NAME"] = f"ic_db_bench_{secrets.token_hex(4)}"
    with _django.scratch_database():
        main()
