"""maintenance_mode on real files, with a real HTTP server standing in for nginx."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.test import override_settings

from apps.remediation.models import ActionRun
from tests.remediation.conftest import execute, log_text, request_run

pytestmark = pytest.mark.django_db


class _Nginx(SimpleHTTPRequestHandler):
    """Serves the maintenance page with 503 while the flag exists, else the site, as the nginx
    snippet in deploy/ does."""

    def do_GET(self) -> None:
        folder = Path(self.directory)
        if (folder / "maintenance.flag").exists():
            body = (folder / "maintenance.html").read_bytes()
            self.send_response(503)
        else:
            body, _ = b"<h1>The shop</h1>", self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site(action_folders: dict[str, Path]) -> Iterator[str]:
    handler = functools.partial(_Nginx, directory=str(action_folders["MAINTENANCE_DIR"]))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    with override_settings(MAINTENANCE_CHECK_URL=url):
        yield url
    server.shutdown()
    server.server_close()


def test_on_writes_escaped_page_and_flag_and_is_verified_through_the_site(responder, local_host, action_folders, site):
    message = 'Back soon <script>alert("x")</script> & thanks'
    run = execute(request_run(responder, "maintenance_mode", {"mode": "on", "message": message}, host=local_host))
    assert run.state == ActionRun.State.SUCCEEDED, log_text(run)
    assert run.verified
    page = (action_folders["MAINTENANCE_DIR"] / "maintenance.html").read_text()
    assert "&lt;script&gt;" in page
    assert "<script>alert" not in page
    assert (action_folders["MAINTENANCE_DIR"] / "maintenance.flag").exists()
    assert "maintenance message shown" in log_text(run)


def test_off_removes_the_flag_and_the_site_is_back(responder, local_host, action_folders, site):
    execute(request_run(responder, "maintenance_mode", {"mode": "on", "message": "Down"}, host=local_host))
    run = execute(request_run(responder, "maintenance_mode", {"mode": "off"}, host=local_host))
    assert run.state == ActionRun.State.SUCCEEDED
    assert run.verified
    assert not (action_folders["MAINTENANCE_DIR"] / "maintenance.flag").exists()


def test_dry_run_touches_nothing_and_says_what_it_would_write(responder, local_host, action_folders):
    run = execute(
        request_run(responder, "maintenance_mode", {"mode": "on", "message": "Down"}, host=local_host, dry_run=True)
    )
    assert run.state == ActionRun.State.SUCCEEDED
    assert not run.verified
    assert list(action_folders["MAINTENANCE_DIR"].iterdir()) == []
    assert "would write" in log_text(run)


def test_on_needs_a_message(local_host):
    from apps.remediation import catalog

    form = catalog.get("maintenance_mode").Params(data={"mode": "on", "message": "  "}, host=local_host)
    assert not form.is_valid()
    assert "message" in form.errors
