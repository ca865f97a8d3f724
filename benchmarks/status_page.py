"""The public status page under load: /status/ and /api/v2/summary.json against a bare Django view
that returns a constant page, in the same run, on the real ASGI server (uvicorn), loaded from a
second process on 127.0.0.1 (wrk, or a bounded Python client when wrk is missing).

Data: 50 components, 20 active public incidents, 1,000 past ones over the last 90 days, on a
scratch database created and dropped here. Also checks that the query count of a cache miss does
not grow with the number of incidents. Bounded: every load lasts LOAD_SECONDS, the whole run
stops by itself.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidentcenter REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/status_page.py

BENCH_SECONDS (10) and BENCH_CONNECTIONS (32) change the load; BENCH_CLIENT=python uses the
Python client even where wrk is installed (`apt-get install wrk`).
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "incidentcenter.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

LOAD_SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PYTHON_THREADS = 8
COMPONENTS, ACTIVE, PAST = 50, 20, 1000
PATHS = {"bare view": "/bench/bare/", "/status/": "/status/", "/api/v2/summary.json": "/api/v2/summary.json"}
# Browsers and status aggregators ask for gzip; the cached pages keep a compressed copy for them.
GZIP_RUNS = {"/status/ (gzip)": "/status/", "/api/v2/summary.json (gzip)": "/api/v2/summary.json"}


def seed(active: int, past: int, start: int) -> None:
    """Public incidents with their updates and component spans, written in bulk."""
    from apps.accounts.models import User
    from apps.comms.models import (
        Component,
        ComponentOutage,
        MaintenanceWindow,
        PublicIncident,
        Update,
        UpdateComponent,
        new_code,
    )
    from apps.incidents.models import Incident, Severity
    from apps.runbooks.models import Scenario

    user, _ = User.objects.get_or_create(username="bench", defaults={"role": User.Role.COMMUNICATIONS})
    if not Component.objects.exists():
        Component.objects.bulk_create(
            Component(name=f"Component {n:02d}", description=f"Part {n} of the system", position=n)
            for n in range(COMPONENTS)
        )
        MaintenanceWindow.objects.create(
            title="Database upgrade",
            body="Read-only for an hour.",
            starts_at=timezone.now() + timedelta(days=1),
            ends_at=timezone.now() + timedelta(days=1, hours=1),
            created_by=user,
        ).components.set(Component.objects.all()[:3])
    components = list(Component.objects.all())
    now = timezone.now()
    incidents = []
    for n in range(start, start + active + past):
        is_past = n - start >= active
        when = now - timedelta(minutes=30) if not is_past else now - timedelta(days=89 * (n % past) / past, hours=2)
        incidents.append(
            Incident(
                title=f"Benchmark incident {n}",
                scenario=Scenario.SYSTEM_OUTAGE,
                severity=Severity.SEV2,
                declared_by=user,
                declared_at=when,
                noticed_at=when,
                status_changed_at=when,
                status=Incident.Status.RESOLVED if is_past else Incident.Status.INVESTIGATING,
                resolved_at=when + timedelta(hours=1) if is_past else None,
            )
        )
    incidents = Incident.objects.bulk_create(incidents)
    publics = PublicIncident.objects.bulk_create(
        PublicIncident(
            incident=i,
            code=new_code(),
            name=f"Public incident {i.pk}",
            status="resolved" if i.resolved_at else "investigating",
            impact="major",
            created_at=i.declared_at,
            updated_at=i.resolved_at or i.declared_at,
            resolved_at=i.resolved_at,
        )
        for i in incidents
    )
    updates, affected, spans = [], [], []
    for public in publics:
        component = components[public.pk % len(components)]
        first = Update(
            incident_id=public.incident_id,
            public_incident=public,
            code=new_code(),
            audience="public",
            status="investigating",
            title=public.name,
            body="We are investigating **slow or failing requests**.",
            author=user,
            created_at=public.created_at,
        )
        updates.append(first)
        affected.append((first, component, "operational", "partial_outage"))
        if public.resolved_at:
            last = Update(
                incident_id=public.incident_id,
                public_incident=public,
                code=new_code(),
                audience="public",
                status="resolved",
                title=public.name,
                body="This incident has been resolved.",
                author=user,
                created_at=public.resolved_at,
            )
            updates.append(last)
            affected.append((last, component, "partial_outage", "operational"))
        spans.append(
            ComponentOutage(
                component=component,
                public_incident=public,
                state="partial_outage",
                started_at=public.created_at,
                ended_at=public.resolved_at,
            )
        )
    Update.objects.bulk_create(updates)
    UpdateComponent.objects.bulk_create(
        UpdateComponent(update=u, component=c, old_state=old, new_state=new) for u, c, old, new in affected
    )
    ComponentOutage.objects.bulk_create(spans)


def cache_miss_queries() -> dict[str, tuple[int, float]]:
    """Queries and milliseconds of each page when it is not cached (a rebuild), through Django's
    test client."""
    from apps.comms import publiccache

    counts = {}
    client = Client()
    for name, path in PATHS.items():
        if name == "bare view":
            continue
        publiccache.invalidate_now()
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (path, response.status_code)
        counts[name] = (len(queries), elapsed)
    return counts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database_name: str, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    database_url = settings.DATABASE_URL.rsplit("/", 1)[0] + f"/{database_name}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "status_page_site",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT)]),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_hex(32),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "PLAIN_STATIC_STORAGE": "1",
        "DATABASE_URL": database_url,
        # Django's advice under ASGI; the cached pages read no database anyway.
        "DB_CONN_MAX_AGE": "0",
        "LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable, "-m", "uvicorn", "incidentcenter.asgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning", "--lifespan", "off",
    ]  # fmt: skip
    # Its output goes to a file, shown only if something fails: when wrk stops at the end of a run,
    # the requests it leaves in flight are cancelled, which uvicorn reports as errors.
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


def fetch(port: int, path: str, compressed: bool) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": "gzip"} if compressed else {})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}")
    return body


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=5)


def load_wrk(url: str, gzip: bool) -> tuple[float, float]:
    """Requests per second and p99 latency in ms, from wrk (a second process)."""
    header = ["-H", "Accept-Encoding: gzip"] if gzip else []
    output = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{LOAD_SECONDS}s", "--latency", *header, url],
        capture_output=True,
        text=True,
        timeout=LOAD_SECONDS + 30,
        check=True,
    ).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"{url} answered errors under load:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    return rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load_python(url: str, gzip: bool) -> tuple[float, float]:
    """The same measure without wrk: a bounded client in a second process (threads, keep-alive)."""
    script = f"""
import http.client, threading, time, urllib.parse
u = urllib.parse.urlsplit({url!r}); stop = time.monotonic() + {LOAD_SECONDS}; times = []; lock = threading.Lock()
def run():
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10); mine = []
    while time.monotonic() < stop:
        t = time.perf_counter(); c.request("GET", u.path, headers={{"Accept-Encoding": "gzip"}} if {gzip} else {{}})
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
        mine.append(time.perf_counter() - t)
    with lock: times.extend(mine)
ts = [threading.Thread(target=run) for _ in range({PYTHON_THREADS})]; [t.start() for t in ts]; [t.join() for t in ts]
times.sort(); print(len(times) / {LOAD_SECONDS}, times[int(len(times) * 0.99) - 1] * 1000)
"""
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=LOAD_SECONDS + 30, check=True
    ).stdout
    rps, p99 = output.split()
    return float(rps), float(p99)


def main() -> None:
    from apps.comms import publiccache

    settings.ALLOWED_HOSTS.append("testserver")
    connection.settings_dict.setdefault("TEST", {})["NAME"] = "bench_status_page"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    server = None
    with tempfile.TemporaryFile() as log:
        try:
            seed(active=2, past=10, start=0)
            small = cache_miss_queries()
            seed(active=ACTIVE - 2, past=PAST - 10, start=12)
            large = cache_miss_queries()
            publiccache.invalidate_now()
            connection.close()

            port = free_port()
            server = start_server(connection.settings_dict["NAME"], port, log)
            use_wrk = shutil.which("wrk") and os.environ.get("BENCH_CLIENT") != "python"
            load = load_wrk if use_wrk else load_python
            client = f"wrk, {CONNECTIONS} connections" if use_wrk else f"Python client, {PYTHON_THREADS} connections"
            results = {}
            runs = [(name, path, False) for name, path in PATHS.items()]
            runs += [(name, path, True) for name, path in GZIP_RUNS.items()]
            for name, path, compressed in runs:
                url = f"http://127.0.0.1:{port}{path}"
                size = len(fetch(port, path, compressed))  # fills the cache
                results[name] = (*load(url, compressed), size)
        except Exception:
            log.seek(0)
            print(log.read().decode(errors="replace")[-5000:], file=sys.stderr)
            raise
        finally:
            if server is not None:
                stop_server(server)
            connection.creation.destroy_test_db(old_name, verbosity=0)

    print(
        f"Status page under load: {COMPONENTS} components, {ACTIVE} active and {PAST} past incidents; "
        f"uvicorn (1 process) on 127.0.0.1, {client}, {LOAD_SECONDS} s each"
    )
    print(f"{'':>29} {'requests/s':>11} {'p99 ms':>8} {'bytes':>8} {'queries (miss)':>15} {'miss ms':>8}")
    for name, (rps, p99, size) in results.items():
        plain = name.removesuffix(" (gzip)")
        queries = f"{small[plain][0]} -> {large[plain][0]}" if plain in small else "0"
        rebuild = f"{large[plain][1]:.0f}" if plain in large else "-"
        print(f"{name:>29} {rps:>11.0f} {p99:>8.1f} {size:>8} {queries:>15} {rebuild:>8}")
    bare = results["bare view"][0]
    for name in [*PATHS, *GZIP_RUNS][1:]:
        share = results[name][0] / bare
        verdict = "within" if share >= 1 / 3 else "NOT within"
        print(f"{name}: {share:.0%} of the bare view's requests/s ({verdict} the target of 3 times)")
    constant = all(small[name][0] == large[name][0] for name in small)
    print(f"query count of a rebuild at 12 vs {ACTIVE + PAST} incidents: {'constant' if constant else 'GROWS'}")
    if not constant:
        sys.exit(1)


if __name__ == "__main__":
    main()
