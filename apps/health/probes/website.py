"""The protected website, for each configured URL: HTTP status, response time, TLS certificate
expiry, and a fingerprint of the content whose change is flagged (a defacement signal)."""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from apps.core import outbound
from apps.health.models import STATE_RANK, Host, Probe, Sample, State
from apps.health.probes import Reading
from apps.health.thresholds import grade

TIMEOUT_SECONDS = 10
MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5
# Tokens that change on every load and must not count as a content change.
VOLATILE = re.compile(rb"(csrfmiddlewaretoken|nonce|csrf_token)[^>]{0,200}")


def probe(host: Host) -> Reading:
    urls = host.urls
    if not urls:
        return Reading(Probe.WEBSITE, State.UNKNOWN, summary="no URLs configured")
    previous = _previous_fingerprints(host)
    checks = [_check(url, host, previous.get(url)) for url in urls]
    worst = max(checks, key=lambda c: STATE_RANK[c["state"]])
    slowest = max((c.get("response_ms") or 0.0) for c in checks)
    changed = [c["url"] for c in checks if c.get("content_changed")]
    summary = worst["summary"] if worst["state"] != State.OK else f"{len(checks)} up, slowest {slowest:.0f} ms"
    if changed:
        summary = f"content changed: {', '.join(changed)}"
    return Reading(Probe.WEBSITE, worst["state"], slowest, summary[:200], {"checks": checks, "changed": changed})


def _previous_fingerprints(host: Host) -> dict[str, str]:
    last = Sample.objects.filter(host=host, probe=Probe.WEBSITE).order_by("-taken_at").first()
    if last is None:
        return {}
    return {c["url"]: c["fingerprint"] for c in last.data.get("checks", []) if c.get("fingerprint")}


def _check(url: str, host: Host, previous_fingerprint: str | None) -> dict[str, Any]:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return {"url": url, "state": State.ERROR, "summary": f"{url}: not an http(s) URL"}
    started = time.perf_counter()
    try:
        # The protected system's own site, configured by its operators: it often lives on a
        # private network (or this machine), which must stay watchable, so private addresses
        # are allowed. Redirects are followed (to the page a visitor ends up on), as browsers do.
        response = outbound.request(
            "GET",
            url,
            headers={"User-Agent": "IncidentCenter-health/1"},
            timeout=TIMEOUT_SECONDS,
            max_bytes=MAX_BYTES,
            allow_private=True,
            max_redirects=MAX_REDIRECTS,
        )
    except OSError as exc:
        return {"url": url, "state": State.CRITICAL, "summary": f"{url}: down ({exc})", "status": None}
    body, status = response.body, response.status
    response_ms = round((time.perf_counter() - started) * 1000, 1)
    fingerprint = hashlib.sha256(VOLATILE.sub(b"", body)).hexdigest()
    changed = previous_fingerprint is not None and previous_fingerprint != fingerprint
    states = [grade(response_ms, host.thresholds, "website_ms")]
    if status >= 500:
        states.append(State.CRITICAL)
    elif status >= 400:
        states.append(State.WARNING)
    if changed:
        states.append(State.CRITICAL)
    check: dict[str, Any] = {
        "url": url,
        "status": status,
        "response_ms": response_ms,
        "fingerprint": fingerprint,
        "content_changed": changed,
        "bytes": len(body),
    }
    if parsed.scheme == "https":
        days = _certificate_days_left(parsed.hostname, parsed.port or 443)
        check["certificate_days_left"] = days
        if days is not None:
            states.append(grade(days, host.thresholds, "certificate_days"))
    check["state"] = max(states, key=lambda s: STATE_RANK[s])
    check["summary"] = f"{url}: HTTP {status} in {response_ms:.0f} ms" + (" (content changed)" if changed else "")
    return check


def _certificate_days_left(hostname: str, port: int) -> float | None:
    context = ssl.create_default_context()
    try:
        with (
            socket.create_connection((hostname, port), timeout=TIMEOUT_SECONDS) as sock,
            context.wrap_socket(sock, server_hostname=hostname) as tls,
        ):
            not_after = tls.getpeercert().get("notAfter")  # type: ignore[union-attr]
    except (OSError, ssl.SSLError):
        return None
    if not isinstance(not_after, str):
        return None
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), tz=UTC)
    return round((expires - datetime.now(tz=UTC)).total_seconds() / 86400, 1)
