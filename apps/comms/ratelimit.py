"""Hourly allowances per client address for the public subscription forms and links (the shared
cache counts; a lost count only ever lets a few more requests through)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: behind a proxy (BEHIND_PROXY), the one the proxy appended to
    X-Forwarded-For, which the client cannot forge; otherwise the socket's peer."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return str(hops[-1])
    return str(request.META.get("REMOTE_ADDR", "unknown"))


def rate_limited(request: HttpRequest, scope: str, per_hour: int) -> bool:
    """Count this request against its client address; True once the hour's allowance is spent."""
    window = int(time.time() // 3600)
    key = f"comms:rate:{scope}:{client_ip(request)}:{window}"
    cache.add(key, 0, timeout=3700)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=3700)
        count = 1
    return count > per_hour
