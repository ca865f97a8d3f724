"""Real servers on 127.0.0.1 for the paging tests: an SMTP server (aiosmtpd) that receives the
pages, and an HTTP server that plays the chat webhooks and the SMS gateway: `/ok/...` answers 200,
`/fail/...` 500, and `/hang/...` answers nothing until the test is over (past any timeout)."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO.
logging.getLogger("mail.log").setLevel(logging.WARNING)

WAIT_SECONDS = 15


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float = WAIT_SECONDS, what: str = "the condition") -> Any:
    """Poll until `condition()` is truthy; its value, or AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class _SmtpHandler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.server.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.server.lock:
            for recipient in envelope.rcpt_tos:
                self.server.received.append((recipient, message))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int = 0
    refuse: set[str] = field(default_factory=set)
    received: list[tuple[str, EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [message for recipient, message in self.received if recipient == address]

    def wait_to(self, address: str, count: int = 1) -> list[EmailMessage]:
        return wait_for(lambda: len(self.to(address)) >= count and self.to(address), what=f"{count} mail to {address}")  # type: ignore[no-any-return]


def start_smtp() -> tuple[SmtpServer, Controller]:
    server = SmtpServer(port=free_port())
    controller = Controller(_SmtpHandler(server), hostname="127.0.0.1", port=server.port)
    controller.start()
    return server, controller


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


ACK_LINK = re.compile(r"https?://[^\s\"<>]+/paging/ack/\d+/[^\s\"<>/]+/")


def ack_link(text: str) -> str:
    found = ACK_LINK.search(text)
    assert found, f"no acknowledgement link in {text!r}"
    return found.group(0)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpServer:
    url: str
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    def to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_to(self, path: str, count: int = 1) -> list[Received]:
        return wait_for(lambda: len(self.to(path)) >= count and self.to(path), what=f"{count} POST to {path}")  # type: ignore[no-any-return]


def start_http() -> tuple[HttpServer, ThreadingHTTPServer]:
    state: HttpServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body))
            if self.path.startswith("/hang"):
                # Past every client timeout; released when the test ends.
                state.release.wait(timeout=30)
                return
            status, answer = (500, b"internal error: boom") if self.path.startswith("/fail") else (200, b"ok")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state = HttpServer(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    # A short poll: shutdown() waits for the loop to notice, 0.5 s by default, at every test's end.
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="paging-test-http", daemon=True
    ).start()
    return state, httpd
