"""Outbound HTTP: the one way Incident Center sends a request to a URL it was given (chat
webhooks and the SMS gateway of paging, the website probe, the maintenance-mode check).

- **Timeouts.** `timeout` bounds connecting and every read; reading the body also stops once the
  whole exchange has taken more than twice `timeout`, so a server that trickles its answer cannot
  hold a worker either.
- **A size limit.** At most `max_bytes` of the body are read; `Response.truncated` says there was more.
- **No redirects** unless asked (`max_redirects`, for GET); each hop is checked like the first.
- **The address guard.** The host is resolved once and every address it resolves to is checked:
  private, loopback, link-local, shared, reserved, multicast and unspecified addresses (anything
  not globally routable) are refused unless `allow_private` is true, or it is left None and
  `settings.OUTBOUND_ALLOW_PRIVATE` is set. The connection then goes to an address that was
  checked (TLS still verifies the certificate against the host name), so a DNS answer that
  changes between the check and the connection (rebinding) cannot slip a private address through.

The standard library's `http.client` does the HTTP; only the connection is ours (to a checked
address). Every failure is an `OSError` (`OutboundError` and its subclasses, or the socket's own
`ConnectionRefusedError`, `ssl.SSLError`…), so a caller that treats any network failure alike
catches `OSError`, and one that words them catches the subclasses first.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from django.conf import settings

USER_AGENT = "IncidentCenter/1"
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 1024 * 1024
REDIRECTS = (301, 302, 303, 307, 308)
CHUNK = 16 * 1024
# NAT64's well-known prefix embeds an IPv4 address, which is the one to judge.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundError(OSError):
    """The request could not be made or answered; the message says why, for a person."""


class InvalidURL(OutboundError):
    """Not an http(s) URL with a host."""


class AddressRefused(OutboundError):
    """The host is, or resolves to, an address that is not public, and that was not allowed."""


class OutboundTimeout(OutboundError, TimeoutError):
    """No answer (or not all of it) within the time allowed."""


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    reason: str
    body: bytes
    truncated: bool
    elapsed_ms: float
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self, limit: int | None = None) -> str:
        body = self.body if limit is None else self.body[:limit]
        return body.decode("utf-8", "replace")


def is_public(address: IPAddress) -> bool:
    """Whether `address` is globally routable unicast: what a webhook on the internet has."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in _NAT64:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return address.is_global and not address.is_multicast


def private_allowed(allow_private: bool | None) -> bool:
    """`allow_private` when given, else the deployment's `OUTBOUND_ALLOW_PRIVATE` (off by default)."""
    if allow_private is not None:
        return allow_private
    return bool(settings.OUTBOUND_ALLOW_PRIVATE)


def resolve(host: str, port: int, *, allow_private: bool | None = None) -> list[tuple[int, str]]:
    """The (family, address) pairs `host` resolves to, every one checked by the guard.
    `AddressRefused` if any is not public and private addresses are not allowed."""
    addresses: list[tuple[int, str]] = []
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OutboundError(f"{host} could not be resolved: {exc.strerror}") from exc
        for family, _, _, _, sockaddr in found:
            pair = (int(family), str(sockaddr[0]))
            if pair not in addresses:
                addresses.append(pair)
    else:
        addresses.append((int(socket.AF_INET6 if literal.version == 6 else socket.AF_INET), host))
    if not private_allowed(allow_private):
        for _, address in addresses:
            if not is_public(ipaddress.ip_address(address.split("%", 1)[0])):
                raise AddressRefused(
                    f"{host} is a private or local address ({address}): not allowed here "
                    "(OUTBOUND_ALLOW_PRIVATE allows it)"
                )
    return addresses


def _connect(addresses: list[tuple[int, str]], port: int, timeout: float) -> socket.socket:
    """A connection to the first checked address that answers (an IP literal: no second lookup)."""
    last: OSError = OutboundError("no address to connect to")
    for _, address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except TimeoutError as exc:
            last = OutboundTimeout(f"no connection within {timeout:g} s")
            last.__cause__ = exc
        except OSError as exc:
            last = exc
    raise last


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addresses: list[tuple[int, str]], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses
        self.seconds = timeout

    def connect(self) -> None:
        self.sock = _connect(self.addresses, self.port, self.seconds)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: list[tuple[int, str]], timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.addresses = addresses
        self.seconds = timeout

    def connect(self) -> None:
        sock = _connect(self.addresses, self.port, self.seconds)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_private: bool | None = None,
    max_redirects: int = 0,
) -> Response:
    """Send one request (following up to `max_redirects` redirects of a GET or HEAD) and read
    at most `max_bytes` of the answer. Any HTTP status is a `Response`; the failures are `OSError`s."""
    started = time.monotonic()
    for _ in range(max_redirects + 1):
        response = _once(method, url, body, headers or {}, timeout, max_bytes, allow_private, started)
        location = response.headers.get("location")
        if response.status not in REDIRECTS or not location or method not in ("GET", "HEAD"):
            return response
        url = urljoin(url, location)
    return response


def _once(
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
    timeout: float,
    max_bytes: int,
    allow_private: bool | None,
    started: float,
) -> Response:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidURL(f"not a valid URL: {exc}") from exc
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidURL("not an http(s) URL")
    addresses = resolve(host, port, allow_private=allow_private)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _CheckedHTTPSConnection(host, port, addresses, timeout)
    else:
        connection = _CheckedHTTPConnection(host, port, addresses, timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    all_headers = {"User-Agent": USER_AGENT, "Connection": "close", **headers}
    try:
        connection.request(method, path, body=body, headers=all_headers)
        answer = connection.getresponse()
        content, truncated = _read(answer, max_bytes, deadline=started + 2 * timeout, timeout=timeout)
        return Response(
            url=url,
            status=answer.status,
            reason=answer.reason,
            body=content,
            truncated=truncated,
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
            headers={name.lower(): value for name, value in answer.getheaders()},
        )
    except TimeoutError as exc:
        if isinstance(exc, OutboundTimeout):
            raise
        raise OutboundTimeout(f"no answer from {host} within {timeout:g} s") from exc
    except http.client.HTTPException as exc:
        raise OutboundError(f"{host} did not answer in HTTP: {exc.__class__.__name__}") from exc
    finally:
        connection.close()


def _read(answer: http.client.HTTPResponse, max_bytes: int, *, deadline: float, timeout: float) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        if time.monotonic() > deadline:
            raise OutboundTimeout(f"the answer took longer than {2 * timeout:g} s")
        # read1: what has arrived (one read of the socket), so the deadline is checked as it trickles.
        chunk = answer.read1(min(CHUNK, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    content = b"".join(chunks)
    return content[:max_bytes], size > max_bytes
