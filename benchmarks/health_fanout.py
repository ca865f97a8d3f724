"""Fan-out: delay from a health sample being taken to its widget reaching N open dashboards.

The real ASGI application (uvicorn, Redis channel layer) serves N websocket clients, each signed
in and watching /ws/health/; this process records one sample a second through the product's
code (store, render, group_send) and the clients, in a second process, note when the widget
arrives. Baseline in the same run: a bare `websockets` broadcast server sending a timestamp to
the same number of clients. Target: p99 under 250 ms at 500 clients, within 3x of the bare p99.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidentcenter REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/health_fanout.py [--clients 100 500] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime

import _django
from django.conf import settings

HOST = "bench-fanout"
TAKEN_AT = re.compile(r'data-taken-at="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the clients (run in a child process, so they do not share this one's CPU time slices) ----
async def run_clients(url: str, count: int, seconds: float, headers: dict[str, str], bare: bool) -> list[float]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    delays: list[float] = []
    ready = 0

    async def client() -> None:
        nonlocal ready
        async with connect(url, additional_headers=headers, open_timeout=60, max_size=2**22) as ws:
            ready += 1
            if ready == count:
                # Every client is connected: tell the parent (a line on stderr).
                print("ready", file=sys.stderr, flush=True)
            end = time.time() + seconds + 5
            while time.time() < end:
                try:
                    message = await asyncio.wait_for(ws.recv(), timeout=max(0.1, end - time.time()))
                except (TimeoutError, ConnectionClosed):
                    break
                now = time.time()
                if bare:
                    delays.append(now - float(message))
                else:
                    for stamp in TAKEN_AT.findall(str(message)):
                        delays.append(now - datetime.fromisoformat(stamp).timestamp())
                        break

    tasks = [asyncio.create_task(client()) for _ in range(count)]
    await asyncio.gather(*tasks)
    return delays


def clients_main(args: list[str]) -> None:
    url, count, seconds, headers, bare = args[0], int(args[1]), float(args[2]), json.loads(args[3]), args[4] == "1"
    delays = asyncio.run(run_clients(url, count, seconds, headers, bare))
    print(json.dumps(delays))


def start_clients(url: str, count: int, seconds: float, headers: dict[str, str], bare: bool) -> subprocess.Popen[str]:
    command = [sys.executable, __file__, "--clients-of", url, str(count), str(seconds), json.dumps(headers)]
    return subprocess.Popen([*command, "1" if bare else "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(clients: subprocess.Popen[str]) -> None:
    """Block until the clients' process says all of them are connected."""
    assert clients.stderr is not None
    for line in clients.stderr:
        if line.strip() == "ready":
            return
    raise RuntimeError("the clients did not all connect")


def wait_listening(port: int, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def summary(delays: list[float]) -> str:
    ms = [d * 1000 for d in delays]
    return (
        f"p50 {_django.percentile(ms, 0.5):7.1f} ms  p99 {_django.percentile(ms, 0.99):7.1f} ms  ({len(ms)} deliveries)"
    )


# --- the bare baseline ---------------------------------------------------------------------
async def bare_server(port: int, seconds: float, count: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    connected: set[object] = set()

    async def handler(ws: object) -> None:
        connected.add(ws)
        try:
            await ws.wait_closed()  # type: ignore[attr-defined]
        finally:
            connected.discard(ws)

    async with serve(handler, "127.0.0.1", port):
        while len(connected) < count:
            await asyncio.sleep(0.05)
        end = time.time() + seconds
        while time.time() < end:
            broadcast(connected, repr(time.time()))  # type: ignore[arg-type]
            await asyncio.sleep(1)
        await asyncio.sleep(3)


def run_bare(count: int, seconds: float) -> list[float]:
    port = free_port()
    clients = start_clients(f"ws://127.0.0.1:{port}/", count, seconds, {}, bare=True)
    asyncio.run(bare_server(port, seconds, count))
    out, _ = clients.communicate(timeout=120)
    return list(json.loads(out))


# --- Incident Center ----------------------------------------------------------------------
def run_product(count: int, seconds: float, url: str, cookie: str) -> list[float]:
    from apps.health import live, services
    from apps.health.models import Host
    from apps.health.probes import sample_all

    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "incidentcenter.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--lifespan", "off"],
        cwd=_django.ROOT, env=env,
    )  # fmt: skip
    try:
        wait_listening(port)
        headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": cookie}
        clients = start_clients(
            f"ws://127.0.0.1:{port}/ws/health/?view=widgets&probes=cpu", count, seconds, headers, False
        )
        host = Host.objects.get(name=HOST)
        readings = sample_all(host)
        # A host's worker has published before: its first render (template compilation) is
        # not a delay any page sees in steady state. Nobody is connected yet.
        services.readings_record(host=host, readings=readings)
        live.publish_host(host, probes=["cpu"])
        wait_ready(clients)
        stop = time.time() + seconds
        while time.time() < stop:
            tick = time.time()
            services.readings_record(host=host, readings=readings)
            live.publish_host(host, probes=["cpu"])
            time.sleep(max(0.0, 1 - (time.time() - tick)))
        out, _ = clients.communicate(timeout=120)
        return list(json.loads(out))
    finally:
        server.terminate()
        server.wait(timeout=30)


def session_cookie() -> str:
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from apps.accounts.models import User

    user = User.objects.create_user("bench-viewer", role=User.Role.MANAGER)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def main() -> None:
    logging.getLogger("websockets").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    if not settings.REDIS_URL:
        sys.exit("Set REDIS_URL: the fan-out goes through the Redis channel layer.")
    from apps.health.models import Host

    with _django.scratch_database() as url:
        Host.objects.create(name=HOST)
        cookie = session_cookie()
        print(f"Fan-out, one sample a second for {args.seconds:.0f} s, delay from sample to delivery")
        for count in args.clients:
            bare = run_bare(count, args.seconds)
            ours = run_product(count, args.seconds, url, cookie)
            print(f"{count:>4} clients  bare websockets: {summary(bare)}")
            print(f"{count:>4} clients  Incident Center: {summary(ours)}")
            ratio = _django.percentile(ours, 0.99) / max(_django.percentile(bare, 0.99), 1e-9)
            print(f"{count:>4} clients  p99 ratio {ratio:.1f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--clients-of":
        clients_main(sys.argv[2:])
    else:
        main()
