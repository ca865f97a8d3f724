"""Probes measure this machine and the real PostgreSQL, Redis and a local website; a failing one
reports its failure and never takes the others down. Thresholds grade, hosts override them."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from apps.health import selectors, services
from apps.health.models import Host, Probe, State
from apps.health.probes import backups, postgres, redis_probe, sample_all, system
from apps.health.probes import service_units as service_probe
from apps.health.probes.website import probe as website_probe
from apps.health.thresholds import grade
from tests.health.conftest import Website, the_test_database_url

pytestmark = pytest.mark.django_db

CLOSED_PORT_URL = "postgres://postgres@127.0.0.1:1/protected"
# Every figure of this machine grades OK with these, whatever else runs on it.
LENIENT = {key: [1000, 2000] for key in ("cpu", "load", "memory", "swap", "disk")} | {"postgres_ms": [5000, 10000]}


# --- system -----------------------------------------------------------------------------------


def test_cpu_reports_the_total_and_every_core_as_percentages(host: Host) -> None:
    reading = system.cpu(host)

    assert reading.probe == Probe.CPU
    assert 0 <= reading.value <= 100
    per_core = reading.data["per_core"]
    assert len(per_core) == psutil.cpu_count()
    assert all(0 <= core <= 100 for core in per_core)
    assert f"of {len(per_core)} cores" in reading.summary


def test_memory_and_swap_report_the_machines_real_totals(host: Host) -> None:
    reading = system.memory(host)

    assert reading.data["total"] == psutil.virtual_memory().total > 0
    assert 0 <= reading.value <= 100
    assert reading.state in (State.OK, State.WARNING, State.CRITICAL)

    swap = system.swap(host)
    assert swap.data["total"] == psutil.swap_memory().total
    assert swap.summary == "no swap" if swap.data["total"] == 0 else "% of" in swap.summary


def test_disks_lists_filesystems_like_df(host: Host) -> None:
    reading = system.disks(host)

    rows = reading.data["filesystems"]
    assert rows
    for row in rows:
        assert row["mount"].startswith("/")
        assert row["total"] > 0
        assert 0 <= row["percent"] <= 100
    assert reading.value == max(row["percent"] for row in rows)


def test_load_uptime_and_processes_are_real(host: Host) -> None:
    load = system.load(host)
    assert load.data["cores"] == psutil.cpu_count()
    assert all(load.data[window] >= 0 for window in ("1m", "5m", "15m"))
    assert load.data["per_core"] == round(load.data["1m"] / load.data["cores"], 2)
    assert len(load.summary.split()) == 3

    uptime = system.uptime(host)
    assert uptime.value > 0
    assert " d " in uptime.summary

    processes = system.top_processes(host)
    assert processes.value == processes.data["count"] > 1
    by_cpu, by_memory = processes.data["by_cpu"], processes.data["by_memory"]
    assert 1 <= len(by_cpu) <= 5
    assert [p["cpu"] for p in by_cpu] == sorted((p["cpu"] for p in by_cpu), reverse=True)
    assert [p["memory"] for p in by_memory] == sorted((p["memory"] for p in by_memory), reverse=True)
    assert all(isinstance(p["pid"], int) and p["name"] for p in by_cpu + by_memory)


def test_the_process_table_shows_a_busy_process_with_its_cpu_memory_and_owner(host: Host) -> None:
    # Read from /proc on Linux: the CPU share is since the previous read, per core, as psutil's.
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 5\nwhile time.time() < end: pass"])
    try:
        system.top_processes(host)
        time.sleep(1)
        reading = system.top_processes(host)
        name = psutil.Process(busy.pid).name()
    finally:
        busy.kill()
        busy.wait()
    rows = {row["pid"]: row for row in reading.data["by_cpu"]}
    assert busy.pid in rows, reading.data["by_cpu"]
    assert rows[busy.pid]["cpu"] > 30
    assert rows[busy.pid]["user"] == psutil.Process().username()
    assert rows[busy.pid]["name"] == name
    mine = next(row for row in reading.data["by_memory"] + reading.data["by_cpu"] if row["pid"] == busy.pid)
    assert 0 <= mine["memory"] < 100
    assert reading.value == reading.data["count"] == pytest.approx(len(psutil.pids()), abs=10)


def test_the_process_table_has_the_same_shape_through_psutil(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hosts without /proc read it through psutil.
    monkeypatch.setattr(system, "_HAVE_PROC", False)
    system.top_processes(host)
    reading = system.top_processes(host)
    assert reading.value == reading.data["count"] > 1
    for row in reading.data["by_cpu"] + reading.data["by_memory"]:
        assert set(row) == {"pid", "name", "cpu", "memory", "user"}


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_reports_size_and_connections_of_the_real_database(host: Host) -> None:
    # This machine is shared: a busy moment must not make the round trip a warning here.
    host.thresholds = {"postgres_ms": [5000, 10000]}
    with override_settings(TARGET_DATABASE_URL=the_test_database_url()):
        reading = postgres.probe(host)

    assert reading.state == State.OK, reading
    assert reading.data["reachable"] is True
    assert reading.data["size_bytes"] > 0
    # At least the probe's own session and this test's.
    assert reading.data["connections"] >= 1
    assert reading.data["max_connections"] > 0
    assert reading.value == reading.data["response_ms"] > 0
    assert "connections" in reading.summary
    assert reading.error == ""


@contextmanager
def _slow_query(database_url: str, running_for: float) -> Iterator[int]:
    """A query in `database_url` that has been running for `running_for` seconds when the block
    starts and is cancelled when it ends; yields its backend's pid."""
    session = psycopg.connect(database_url, autocommit=True)
    pid = session.info.backend_pid
    runner = threading.Thread(target=_sleep_until_cancelled, args=(session,), daemon=True)
    runner.start()
    try:
        with psycopg.connect(database_url, autocommit=True) as control:
            deadline = time.monotonic() + 10
            while not control.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND state = 'active' AND now() - query_start > %s",
                [pid, timedelta(seconds=running_for)],
            ).fetchone():
                assert time.monotonic() < deadline, "the slow query did not start"
                time.sleep(0.05)
        yield pid
    finally:
        with psycopg.connect(database_url, autocommit=True) as control:
            control.execute("SELECT pg_cancel_backend(%s)", [pid])
        runner.join(timeout=10)
        session.close()


def _sleep_until_cancelled(session: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(psycopg.errors.QueryCanceled):
        session.execute("SELECT pg_sleep(60)")


@pytest.mark.postgres
def test_a_long_running_query_in_the_watched_database_is_reported(host: Host) -> None:
    host.thresholds = {"postgres_longest_query_s": [0.3, 600], "postgres_ms": [5000, 10000]}
    url = the_test_database_url()

    with override_settings(TARGET_DATABASE_URL=url), _slow_query(url, running_for=0.4) as pid:
        reading = postgres.probe(host)

    assert reading.state == State.WARNING
    longest = reading.data["longest_query"]
    assert longest["pid"] == pid
    assert longest["seconds"] >= 0.3
    assert "pg_sleep" in longest["query"]
    assert reading.data["by_state"].get("active", 0) >= 1


@pytest.mark.postgres
def test_queries_in_other_databases_of_the_server_are_not_counted(host: Host) -> None:
    host.thresholds = {"postgres_longest_query_s": [0.3, 600], "postgres_ms": [5000, 10000]}
    other_database = the_test_database_url().rsplit("/", 1)[0] + "/postgres"

    with override_settings(TARGET_DATABASE_URL=the_test_database_url()), _slow_query(other_database, running_for=0.4):
        reading = postgres.probe(host)

    assert reading.data["longest_query"] is None
    assert reading.state == State.OK


@pytest.mark.postgres
def test_a_slow_postgres_round_trip_is_graded_by_the_hosts_thresholds(host: Host) -> None:
    host.thresholds = {"postgres_ms": [0, 0.001]}
    with override_settings(TARGET_DATABASE_URL=the_test_database_url()):
        reading = postgres.probe(host)

    assert reading.state == State.CRITICAL
    assert reading.data["reachable"] is True


def test_an_unreachable_postgres_is_critical_with_the_reason(host: Host) -> None:
    with override_settings(TARGET_DATABASE_URL=CLOSED_PORT_URL):
        reading = postgres.probe(host)

    assert reading.state == State.CRITICAL
    assert reading.summary == "unreachable"
    assert reading.data == {"reachable": False}
    assert "127.0.0.1" in reading.error or "refused" in reading.error.lower()


def test_postgres_without_a_configured_database_is_unknown(host: Host) -> None:
    with override_settings(TARGET_DATABASE_URL=""):
        reading = postgres.probe(host)

    assert reading.state == State.UNKNOWN
    assert "TARGET_DATABASE_URL" in reading.summary


# --- Redis ------------------------------------------------------------------------------------


@pytest.mark.redis
def test_redis_reports_memory_and_clients(host: Host) -> None:
    reading = redis_probe.probe(host)

    assert reading.state == State.OK
    assert reading.data["reachable"] is True
    assert reading.data["connected_clients"] >= 1
    assert reading.data["used_memory"] > 0
    assert reading.data["version"]


def test_an_unreachable_redis_is_critical(host: Host) -> None:
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        reading = redis_probe.probe(host)

    assert reading.state == State.CRITICAL
    assert reading.summary == "unreachable"
    assert reading.error


# --- website ----------------------------------------------------------------------------------


def _site_host(host: Host, *urls: str) -> Host:
    host.website_urls = "\n".join(urls)
    host.save()
    return host


def test_a_website_answering_200_is_ok_with_its_response_time(host: Host, website: Website) -> None:
    reading = website_probe(_site_host(host, website.url("/")))

    assert reading.state == State.OK, reading
    (check,) = reading.data["checks"]
    assert check["status"] == 200
    assert check["response_ms"] > 0
    assert reading.value == check["response_ms"]
    assert reading.summary.startswith("1 up, slowest")
    assert reading.data["changed"] == []


def test_changed_content_between_two_samples_is_a_critical_defacement_signal(host: Host, website: Website) -> None:
    host = _site_host(host, website.url("/"))
    first = website_probe(host)
    services.readings_record(host=host, readings=[first])
    assert first.state == State.OK

    website.pages["/"] = (200, b"<html><body><h1>HACKED BY NOBODY</h1></body></html>")
    second = website_probe(host)

    assert second.state == State.CRITICAL
    assert second.summary == f"content changed: {website.url('/')}"
    assert second.data["changed"] == [website.url("/")]


def test_the_same_content_again_is_not_a_change(host: Host, website: Website) -> None:
    host = _site_host(host, website.url("/"))
    services.readings_record(host=host, readings=[website_probe(host)])

    again = website_probe(host)

    assert again.state == State.OK
    assert again.data["changed"] == []


def test_a_server_error_is_critical(host: Host, website: Website) -> None:
    website.pages["/"] = (500, b"Internal Server Error")

    reading = website_probe(_site_host(host, website.url("/")))

    assert reading.state == State.CRITICAL
    assert reading.data["checks"][0]["status"] == 500
    assert "HTTP 500" in reading.summary


def test_a_refused_connection_is_critical_and_says_down(host: Host) -> None:
    reading = website_probe(_site_host(host, "http://127.0.0.1:1/"))

    assert reading.state == State.CRITICAL
    assert "down" in reading.summary
    assert reading.data["checks"][0]["status"] is None


def test_a_url_that_is_not_http_is_a_probe_error(host: Host) -> None:
    reading = website_probe(_site_host(host, "ftp://files.example.com/index.html"))

    assert reading.state == State.ERROR
    assert "not an http(s) URL" in reading.summary


def test_a_host_without_urls_has_an_unknown_website(host: Host) -> None:
    reading = website_probe(host)

    assert reading.state == State.UNKNOWN
    assert reading.summary == "no URLs configured"


# --- backups ----------------------------------------------------------------------------------


def test_backups_missing_folder_is_a_warning(host: Host, tmp_path: Path) -> None:
    with override_settings(BACKUP_DIR=tmp_path / "backups"):
        reading = backups.probe(host)

    assert reading.state == State.WARNING
    assert "no backup folder" in reading.summary


def test_backups_empty_folder_is_critical(host: Host, tmp_path: Path) -> None:
    with override_settings(BACKUP_DIR=tmp_path):
        reading = backups.probe(host)

    assert reading.state == State.CRITICAL
    assert reading.summary == "no backups yet"


def test_a_fresh_backup_is_ok_with_its_age_and_size(host: Host, tmp_path: Path) -> None:
    (tmp_path / "older.dump").write_bytes(b"x" * 10)
    os.utime(tmp_path / "older.dump", (time.time() - 7200, time.time() - 7200))
    (tmp_path / "protected-2026-03-02.dump").write_bytes(b"x" * 4096)

    with override_settings(BACKUP_DIR=tmp_path):
        reading = backups.probe(host)

    assert reading.state == State.OK
    assert reading.data["newest"] == "protected-2026-03-02.dump"
    assert reading.data["size_bytes"] == 4096
    assert reading.data["count"] == 2
    assert reading.value < 0.1


def test_a_backup_sixty_hours_old_is_critical(host: Host, tmp_path: Path) -> None:
    dump = tmp_path / "protected.dump"
    dump.write_bytes(b"x")
    sixty_hours_ago = time.time() - 60 * 3600
    os.utime(dump, (sixty_hours_ago, sixty_hours_ago))

    with override_settings(BACKUP_DIR=tmp_path):
        reading = backups.probe(host)

    assert reading.state == State.CRITICAL
    assert 59.9 < reading.value < 60.1
    assert "60.0 h old" in reading.summary


# --- services ---------------------------------------------------------------------------------


def test_no_configured_services_is_unknown(host: Host) -> None:
    reading = service_probe.probe(host)

    assert reading.state == State.UNKNOWN
    assert reading.summary == "no services configured"


@pytest.mark.skipif(
    os.path.isdir("/run/systemd/system") or shutil.which("pm2") is not None,
    reason="this machine has a service manager",
)
def test_services_are_unknown_where_the_host_has_no_service_manager(host: Host) -> None:
    host.services = "postgresql, nginx, mvono-app"
    host.save()

    reading = service_probe.probe(host)

    assert reading.state == State.UNKNOWN
    assert reading.summary == "no service manager knows these services"
    assert reading.data["services"] == {"postgresql": "unknown", "nginx": "unknown", "mvono-app": "unknown"}


def test_a_service_name_with_shell_metacharacters_is_refused_and_nothing_runs(host: Host, tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    host.services = f"nginx; touch {canary}, nginx && touch {canary}, $(touch {canary})"
    host.save()

    reading = service_probe.probe(host)

    assert set(reading.data["services"].values()) == {"invalid name"}
    assert not canary.exists()
    # A configuration mistake is the probe failing, not a service down: no outage banner.
    assert reading.state == State.ERROR
    assert reading.summary.startswith("invalid name: nginx; touch")
    services.readings_record(host=host, readings=[reading])
    assert selectors.critical_signals() == []


# --- all probes together ----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_one_broken_probe_never_stops_the_others(host: Host, tmp_path: Path) -> None:
    (tmp_path / "protected.dump").write_bytes(b"backup")
    # Not even parseable: the website probe raises, and that becomes its reading.
    host.website_urls = "http://[::1"
    host.thresholds = LENIENT
    host.save()

    with override_settings(BACKUP_DIR=tmp_path, TARGET_DATABASE_URL=the_test_database_url()):
        readings = {r.probe: r for r in sample_all(host)}

    assert list(readings) == [
        "cpu", "load", "memory", "swap", "disk", "uptime", "processes",
        "postgres", "redis", "services", "website", "backups",
    ]  # fmt: skip
    assert readings["website"].state == State.ERROR
    assert "ValueError" in readings["website"].error
    for name in ("cpu", "load", "memory", "swap", "disk", "uptime", "processes", "postgres", "redis", "backups"):
        assert readings[name].state == State.OK, readings[name]
        assert readings[name].error == ""
    assert readings["services"].state == State.UNKNOWN
    assert all("probe_ms" in r.data for r in readings.values())


# --- thresholds -------------------------------------------------------------------------------


def test_a_hosts_thresholds_change_the_grade(host: Host) -> None:
    assert grade(50, host.thresholds, "cpu") == State.OK

    host.thresholds = {"cpu": [40, 60]}
    assert grade(50, host.thresholds, "cpu") == State.WARNING
    host.thresholds = {"cpu": [20, 45]}
    assert grade(50, host.thresholds, "cpu") == State.CRITICAL

    # The probe follows the host's figures: any memory use at all is critical here.
    host.thresholds = {"memory": [0, 0.001]}
    assert system.memory(host).state == State.CRITICAL
    host.thresholds = {"memory": [1000, 2000]}
    assert system.memory(host).state == State.OK


def test_fewer_certificate_days_left_is_worse() -> None:
    assert grade(30, {}, "certificate_days") == State.OK
    assert grade(10, {}, "certificate_days") == State.WARNING
    assert grade(2, {}, "certificate_days") == State.CRITICAL
    assert grade(None, {}, "cpu") == State.UNKNOWN


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ([70, 90], 'Thresholds must be an object such as {"cpu": [70, 90]}.'),
        ({"cpu": [90]}, "cpu must be [warning, critical], two numbers."),
        ({"cpu": ["high", "higher"]}, "cpu must be [warning, critical], two numbers."),
        ({"disk": 90}, "disk must be [warning, critical], two numbers."),
        ({"cpuu": [70, 90]}, "Unknown threshold 'cpuu'; known: "),
        ({"cpu": [95, 80]}, "cpu: the warning level must not be above the critical level"),
        ({"certificate_days": [3, 14]}, "certificate_days: fewer is worse, so the warning level must not be below"),
    ],
)
def test_a_host_with_bad_thresholds_is_refused_with_a_clear_message(thresholds: object, message: str) -> None:
    host = Host(name="web-3", thresholds=thresholds)

    with pytest.raises(ValidationError) as refused:
        host.full_clean()

    problems = refused.value.message_dict["thresholds"]
    assert any(p.startswith(message) for p in problems), problems


def test_a_host_with_a_url_that_is_not_http_is_refused() -> None:
    host = Host(name="web-3", website_urls="https://shop.example.com/\nftp://files.example.com/\njavascript:alert(1)")

    with pytest.raises(ValidationError) as refused:
        host.full_clean()

    assert refused.value.message_dict["website_urls"] == [
        "'ftp://files.example.com/' is not an http(s) URL.",
        "'javascript:alert(1)' is not an http(s) URL.",
    ]


def test_a_host_with_a_service_name_that_is_not_one_is_refused() -> None:
    host = Host(name="web-3", services="postgresql, nginx; rm -rf /, mvono-app")

    with pytest.raises(ValidationError) as refused:
        host.full_clean()

    assert refused.value.message_dict["services"] == [
        "'nginx; rm -rf /' is not a service name (letters, digits, @ . _ - only)."
    ]


def test_a_host_with_good_settings_is_accepted() -> None:
    host = Host(
        name="web-3",
        website_urls="https://shop.example.com/\nhttp://127.0.0.1:8080/health",
        thresholds={"cpu": [70, 90], "certificate_days": [21, 7]},
        services="postgresql, nginx, mvono-app",
    )

    host.full_clean()

    assert host.service_names == ["postgresql", "nginx", "mvono-app"]


def test_the_process_table_is_read_every_other_round(db: None) -> None:
    from apps.health.models import Host
    from apps.health.probes import sample_all

    host = Host.objects.create(name="rounds")

    first = {reading.probe for reading in sample_all(host)}
    second = {reading.probe for reading in sample_all(host)}

    assert "processes" in first
    assert "processes" not in second
    assert second == first - {"processes"}
