"""Fan-out: delay from a health sample being taken to its widget reaching N open dashboards.

The real ASGI application with production settings (`DEBUG=0`, a SECRET_KEY, `ALLOWED_HOSTS`,
plain static storage; Redis pub/sub channel layer) under daphne as the Dockerfile runs it, serves N
signed-in websocket clients, each on the one live socket of a page showing CPU widgets
(`/ws/live/?topic=health:widgets:*:cpu`); this process records one sample a second through the
product's code (store, render, publish) and the clients, in a second process, note when each
widget arrives and how many arrived. Baseline in the same run: a bare `websockets` broadcast server
sending a timestamp to the same number of clients. Targets: at 500 clients, p99 within 2x of the
bare p99; at 1,000 clients, every client receives every sample.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidentcenter REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/health_fanout.py [--clients 500 1000] [--seconds 20] [--servers daphne uvicorn]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from datetime import datetime

# The server runs with production settings and this process signs the clients' session: one key.
os.environ.setdefault("SECRET_KEY", secrets.token_hex(32))

import _django
from django.conf import settings

HOST = "bench-fanout"
# Once every client is connected, both servers get this long before the first message: the fan-out
# is measured in steady state, not in the wake of a thousand handshakes.
SETTLE_SECONDS = 1.0
TAKEN_AT = re.compile(r'data-taken-at="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the clients (run in a child process, so they do not share this one's CPU time slices) ----
async def run_clients(
    url: str, count: int, seconds: float, headers: dict[str, str], bare: bool
) -> tuple[list[tuple[float, float]], list[int]]:
    """(stamp in the message, arrival) of every delivery, and how many messages each client got.
    The stamp is the bare server's send time, or the sample's `taken_at` in a widget."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    deliveries: list[tuple[float, float]] = []
    received: list[int] = []
    ready = 0

    everyone = asyncio.Event()

    async def client() -> None:
        nonlocal ready
        got = 0
        async with connect(url, additional_headers=headers, open_timeout=60, max_size=2**22) as ws:
            ready += 1
            if ready == count:
                # Every client is connected: tell the parent (a line on stderr).
                print("ready", file=sys.stderr, flush=True)
                everyone.set()
            await everyone.wait()
            end = time.time() + SETTLE_SECONDS + seconds + 5
            while time.time() < end:
                try:
                    message = await asyncio.wait_for(ws.recv(), timeout=max(0.1, end - time.time()))
                except (TimeoutError, ConnectionClosed):
                    break
                now = time.time()
                got += 1
                if bare:
                    deliveries.append((float(message), now))
                else:
                    for stamp in TAKEN_AT.findall(str(message)):
                        deliveries.append((datetime.fromisoformat(stamp).timestamp(), now))
                        break
        received.append(got)

    tasks = [asyncio.create_task(client()) for _ in range(count)]
    await asyncio.gather(*tasks)
    return deliveries, received


def clients_main(args: list[str]) -> None:
    url, count, seconds, headers, bare = args[0], int(args[1]), float(args[2]), json.loads(args[3]), args[4] == "1"
    deliveries, received = asyncio.run(run_clients(url, count, seconds, headers, bare))
    print(json.dumps({"deliveries": deliveries, "received": received}))


def start_clients(url: str, count: int, seconds: float, headers: dict[str, str], bare: bool) -> subprocess.Popen[str]:
    command = [sys.executable, __file__, "--clients-of", url, str(count), str(seconds), json.dumps(headers)]
    return subprocess.Popen([*command, "1" if bare else "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(clients: subprocess.Popen[str]) -> None:
    """Block until the clients' process says all of them are connected."""
    assert clients.stderr is not None
    seen: list[str] = []
    for line in clients.stderr:
        if line.strip() == "ready":
            return
        seen.append(line)
    raise RuntimeError("the clients did not all connect:\n" + "".join(seen[-15:]))


def wait_listening(port: int, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def _ms(values: list[float]) -> str:
    return (
        f"p50 {_django.percentile(values, 0.5) * 1000:7.1f} ms  p99 {_django.percentile(values, 0.99) * 1000:7.1f} ms"
    )


class Result:
    """What the clients saw. `published` (product runs): each sample's `taken_at` and when its
    PUBLISH returned, so a delay can be counted from the sample or from the publish."""

    def __init__(self, out: str, sent: int, published: dict[float, float] | None = None) -> None:
        data = json.loads(out)
        deliveries: list[tuple[float, float]] = data["deliveries"]
        self.received: list[int] = data["received"]
        self.sent = sent
        self.delays = [arrival - stamp for stamp, arrival in deliveries]
        self.published = published or {}
        self.from_publish = [
            arrival - self.published[round(stamp, 3)]
            for stamp, arrival in deliveries
            if round(stamp, 3) in self.published
        ]

    def p99(self) -> float:
        return _django.percentile(self.delays, 0.99)

    def summary(self) -> str:
        complete = sum(1 for got in self.received if got >= self.sent)
        text = (
            f"{_ms(self.delays)}  ({len(self.delays)} deliveries; {complete}/{len(self.received)} clients got"
            f" all {self.sent} messages, fewest {min(self.received, default=0)})"
        )
        if self.published:
            before = [at - taken for taken, at in self.published.items()]
            text += f"\n{'':>14}sample to PUBLISH (store, render): {_ms(before)}"
            text += f"\n{'':>14}PUBLISH to delivery:               {_ms(self.from_publish)}"
        return text


# --- the bare baseline ---------------------------------------------------------------------
async def bare_server(port: int, seconds: float, count: int) -> int:
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
        await asyncio.sleep(SETTLE_SECONDS)
        end = time.time() + seconds
        sent = 0
        while time.time() < end:
            broadcast(connected, repr(time.time()))  # type: ignore[arg-type]
            sent += 1
            await asyncio.sleep(1)
        await asyncio.sleep(3)
        return sent


def run_bare(count: int, seconds: float) -> Result:
    port = free_port()
    clients = start_clients(f"ws://127.0.0.1:{port}/", count, seconds, {}, bare=True)
    sent = asyncio.run(bare_server(port, seconds, count))
    out, _ = clients.communicate(timeout=180)
    return Result(out, sent)


# --- Incident Center ----------------------------------------------------------------------
def server_command(server: str, port: int) -> list[str]:
    """The ASGI server as deployed: uvicorn (the Dockerfile's) or daphne, one process each."""
    if server == "daphne":
        # The deployment the README recommends: a listen backlog for a crowd opening the page at
        # once (Twisted's default is 50), and time for a burst of handshakes, which read the
        # session and the user one after another on Channels' database thread (default 5 s).
        endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog=2048"
        return [sys.executable, "-m", "daphne", "-e", endpoint, "--websocket_connect_timeout", "30", "-v", "0",
                "incidentcenter.asgi:application"]  # fmt: skip
    return [sys.executable, "-m", "uvicorn", "incidentcenter.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--lifespan", "off", "--backlog", "2048"]  # fmt: skip


def run_product(count: int, seconds: float, url: str, cookie: str, server: str) -> Result:
    from apps.health import live, services
    from apps.health.models import Host
    from apps.health.probes import sample_all

    port = free_port()
    production = {
        "DEBUG": "0",
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "ALLOWED_HOSTS": "127.0.0.1",
        "PLAIN_STATIC_STORAGE": "1",
        # As .env.example has it. Each handshake reads the session and the user; with a new
        # PostgreSQL connection for each (the default, 0) a thousand at once took longer than
        # daphne's handshake timeout.
        "DB_CONN_MAX_AGE": "60",
    }
    env = {**os.environ, "DATABASE_URL": url, **production}
    process = subprocess.Popen(server_command(server, port), cwd=_django.ROOT, env=env)
    try:
        wait_listening(port)
        headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": cookie}
        clients = start_clients(
            f"ws://127.0.0.1:{port}/ws/live/?topic=health:widgets:*:cpu", count, seconds, headers, False
        )
        host = Host.objects.get(name=HOST)
        readings = sample_all(host)
        # A host's worker has published before: its first render (template compilation) is
        # not a delay any page sees in steady state. Nobody is connected yet.
        services.readings_record(host=host, readings=readings)
        live.publish_host(host, probes=["cpu"])
        opened = time.time()
        wait_ready(clients)
        print(
            f"{count:>4} clients  {server}: all connected {time.time() - opened:.1f} s after the first tried",
            flush=True,
        )
        time.sleep(SETTLE_SECONDS)
        stop = time.time() + seconds
        sent = 0
        published: dict[float, float] = {}
        while time.time() < stop:
            tick = time.time()
            stored = services.readings_record(host=host, readings=readings)
            live.publish_host(host, probes=["cpu"])
            published[round(stored[0].taken_at.timestamp(), 3)] = time.time()
            sent += 1
            time.sleep(max(0.0, 1 - (time.time() - tick)))
        out, _ = clients.communicate(timeout=180)
        return Result(out, sent, published)
    finally:
        process.terminate()
        process.wait(timeout=30)


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
    parser.add_argument("--clients", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--servers", choices=["daphne", "uvicorn"], nargs="+", default=["daphne"])
    args = parser.parse_args()
    if not settings.REDIS_URL:
        sys.exit("Set REDIS_URL: the fan-out goes through the Redis channel layer.")
    from apps.health.models import Host

    with _django.scratch_database() as url:
        Host.objects.create(name=HOST)
        cookie = session_cookie()
        print(
            f"Fan-out, one sample a second for {args.seconds:.0f} s, delay from sample to delivery"
            " (production settings: DEBUG=0, DB_CONN_MAX_AGE=60)"
        )
        for count in args.clients:
            bare = run_bare(count, args.seconds)
            print(f"{count:>4} clients  bare websockets: {bare.summary()}", flush=True)
            for server in args.servers:
                ours = run_product(count, args.seconds, url, cookie, server)
                print(f"{count:>4} clients  {server + ':':<16}{ours.summary()}", flush=True)
                ratio = ours.p99() / max(bare.p99(), 1e-9)
                from_publish = _django.percentile(ours.from_publish, 0.99) / max(bare.p99(), 1e-9)
                print(f"{count:>4} clients  {server} p99 ratio {ratio:.1f}x (from the PUBLISH: {from_publish:.1f}x)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--clients-of":
        clients_main(sys.argv[2:])
    else:
        main()
