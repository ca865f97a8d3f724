"""deploy/nginx-maintenance.conf in a real nginx: while maintenance_mode's flag exists the site
answers 503 with the page the action wrote, and the action's own check fetches it through nginx."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from apps.remediation.models import ActionRun
from tests.remediation.conftest import execute, request_run

pytestmark = [pytest.mark.nginx, pytest.mark.django_db]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SNIPPET = Path(settings.BASE_DIR) / "deploy" / "nginx-maintenance.conf"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def site(tmp_path: Path, action_folders: dict[str, Path]) -> Iterator[str]:
    """nginx serving a small site with the snippet included, as deploy/ tells admins to (its
    workers run as this user, so they can read the test's private temporary folders)."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text("<h1>The shop</h1>")
    port = _free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"""
daemon off;
{"user root;" if os.geteuid() == 0 else ""}
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi; uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;
    geo $maintenance_bypass {{ default 0; 10.9.9.9 1; }}
    server {{
        listen 127.0.0.1:{port};
        set $maintenance_dir {action_folders["MAINTENANCE_DIR"]};
        include {SNIPPET};
        location / {{ root {root}; }}
    }}
}}
"""
    )
    subprocess.run([NGINX, "-t", "-c", str(conf)], check=True, capture_output=True)
    process = subprocess.Popen([NGINX, "-c", str(conf)], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_listening(port)
        with override_settings(MAINTENANCE_CHECK_URL=url):
            yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.02)  # polling for the condition, bounded by the deadline
    raise AssertionError("nginx did not start listening within 10 s")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_nginx_serves_the_maintenance_page_while_the_flag_exists(responder, local_host, site):
    assert _get(site) == (200, "<h1>The shop</h1>")
    run = execute(
        request_run(responder, "maintenance_mode", {"mode": "on", "message": "Back at 04:00 UTC"}, host=local_host)
    )
    assert run.state == ActionRun.State.SUCCEEDED
    assert run.verified
    assert run.result["served"] is True
    status, body = _get(site + "any/page")
    assert status == 503
    assert "Back at 04:00 UTC" in body
    off = execute(request_run(responder, "maintenance_mode", {"mode": "off"}, host=local_host))
    assert off.verified
    assert _get(site) == (200, "<h1>The shop</h1>")
