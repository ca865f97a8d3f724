"""The outbound HTTP helper against a real HTTP server on 127.0.0.1: answers, timeouts, the size
limit, redirects, and the guard that refuses private and local addresses unless allowed."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from apps.core import outbound

BIG = b"x" * 100_000


class Server:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.release = threading.Event()
        self.url = ""


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            state.paths.append(self.path)
            if self.path == "/hang":
                state.release.wait(timeout=30)
            elif self.path == "/trickle":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    if state.release.wait(timeout=0.1):
                        return
                    self.wfile.write(b"x")
                    self.wfile.flush()
            elif self.path == "/big":
                self._answer(200, BIG)
            elif self.path == "/moved":
                self._answer(302, b"", {"Location": "/ok"})
            else:
                self._answer(200, b"hello", {"X-Test": "yes"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state.paths.append(f"POST {self.path} {self.rfile.read(length).decode()}")
            self._answer(500, b"nope")

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()


def test_it_gets_an_answer_with_status_body_and_headers(server: Server) -> None:
    response = outbound.request("GET", f"{server.url}/ok", allow_private=True)
    assert (response.status, response.body, response.truncated) == (200, b"hello", False)
    assert response.ok
    assert response.headers["x-test"] == "yes"
    assert response.elapsed_ms > 0


def test_any_status_is_an_answer_and_a_post_carries_its_body(server: Server) -> None:
    response = outbound.request("POST", f"{server.url}/hook", body=b"ping", allow_private=True)
    assert (response.status, response.reason, response.text()) == (500, "Internal Server Error", "nope")
    assert server.paths == ["POST /hook ping"]


def test_a_server_that_does_not_answer_times_out(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(outbound.OutboundTimeout, match=r"no answer from 127\.0\.0\.1 within 0\.5 s"):
        outbound.request("GET", f"{server.url}/hang", timeout=0.5, allow_private=True)
    assert time.monotonic() - started < 2
    assert issubclass(outbound.OutboundTimeout, TimeoutError)


def test_an_answer_that_trickles_in_is_cut_off_at_the_deadline(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(outbound.OutboundTimeout, match="the answer took longer than 1 s"):
        outbound.request("GET", f"{server.url}/trickle", timeout=0.5, allow_private=True)
    assert time.monotonic() - started < 2.5


def test_the_body_is_read_up_to_the_size_limit(server: Server) -> None:
    cut = outbound.request("GET", f"{server.url}/big", max_bytes=1000, allow_private=True)
    assert (len(cut.body), cut.truncated) == (1000, True)
    whole = outbound.request("GET", f"{server.url}/big", max_bytes=len(BIG), allow_private=True)
    assert (whole.body, whole.truncated) == (BIG, False)


def test_redirects_are_followed_only_when_asked(server: Server) -> None:
    assert outbound.request("GET", f"{server.url}/moved", allow_private=True).status == 302
    followed = outbound.request("GET", f"{server.url}/moved", allow_private=True, max_redirects=2)
    assert (followed.status, followed.url) == (200, f"{server.url}/ok")


@pytest.mark.parametrize("url", ["ftp://example.com/file", "http:///no-host", "file:///etc/passwd"])
def test_only_http_urls_with_a_host_are_requested(url: str) -> None:
    with pytest.raises(outbound.InvalidURL):
        outbound.request("GET", url)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "[::1]", "[fe80::1]", "[fc00::1]",
     "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
     "100.64.0.1", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]"],
)  # fmt: skip
def test_private_and_local_addresses_are_refused_by_default(settings: Any, server: Server, host: str) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    port = server.url.rsplit(":", 1)[1]
    with pytest.raises(outbound.AddressRefused, match="is a private or local address"):
        outbound.request("GET", f"http://{host}:{port}/ok")
    assert server.paths == [], "nothing was sent"


def test_the_deployment_setting_allows_them_and_a_call_site_may_decide_either_way(
    settings: Any, server: Server
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True
    assert outbound.request("GET", f"{server.url}/ok").status == 200
    with pytest.raises(outbound.AddressRefused):
        outbound.request("GET", f"{server.url}/ok", allow_private=False)
    settings.OUTBOUND_ALLOW_PRIVATE = False
    assert outbound.request("GET", f"{server.url}/ok", allow_private=True).status == 200


def _resolver(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]) -> list[str]:
    """getaddrinfo answering `answers[host]` in turn (one list of addresses per lookup)."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        addresses = answers[host][min(len(asked), len(answers[host])) - 1]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, int(port)))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


def test_a_name_resolving_to_any_private_address_is_refused(
    settings: Any, monkeypatch: pytest.MonkeyPatch, server: Server
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    _resolver(monkeypatch, {"chat.example.test": [["93.184.216.34", "127.0.0.1"]]})
    with pytest.raises(outbound.AddressRefused, match=r"chat\.example\.test is a private or local address \(127"):
        outbound.request("GET", "http://chat.example.test/hook")


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch: pytest.MonkeyPatch, server: Server) -> None:
    """DNS rebinding: a second lookup would answer another address; there is no second lookup."""
    port = server.url.rsplit(":", 1)[1]
    asked = _resolver(monkeypatch, {"rebind.example.test": [["127.0.0.1"], ["10.9.9.9"]]})
    response = outbound.request("GET", f"http://rebind.example.test:{port}/ok", allow_private=True)
    assert response.status == 200
    assert asked == ["rebind.example.test"]


def test_public_addresses_are_public() -> None:
    public = ["93.184.216.34", "8.8.8.8", "2606:4700::1111"]
    assert all(outbound.is_public(ipaddress.ip_address(a)) for a in public)
    assert not outbound.is_public(ipaddress.ip_address("224.0.0.1")), "multicast is no web server"
