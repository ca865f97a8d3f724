"""The public status page and its JSON are served from a cache, rebuilt when something public
changes.

A *generation* number in the shared cache (Redis when configured) names the current version of
everything public; a change sets a new one after its transaction commits, so every process
rebuilds: the process that made the change at once, the others within `GENERATION_CHECK_SECONDS`
(each process reads the generation at most that often, which spares a round trip to Redis on
every request). Rendered bodies are kept in the shared cache under their generation and, to spare
the round trip, in this process too. A body also expires by itself at the next
moment the page changes without anyone acting (a maintenance window starting or ending), and after
`STATUS_PAGE_CACHE_SECONDS` at the latest.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "comms:public:generation"
GENERATION_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class Payload:
    body: bytes
    content_type: str
    expires_at: float  # time.time()
    etag: str
    gzipped: bytes | None = None  # compressed once, for every client that accepts gzip

    @classmethod
    def make(cls, body: bytes, content_type: str, *, valid_for: float | None = None) -> Payload:
        limit = float(settings.STATUS_PAGE_CACHE_SECONDS)
        seconds = limit if valid_for is None else max(1.0, min(limit, valid_for))
        # Weak: the same validator for the plain and the gzipped body.
        etag = 'W/"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        gzipped = gzip.compress(body, compresslevel=6, mtime=0) if len(body) > 1024 else None
        return cls(body=body, content_type=content_type, expires_at=time.time() + seconds, etag=etag, gzipped=gzipped)


_local: dict[str, tuple[str, Payload]] = {}
_local_lock = threading.Lock()
_local_generation = ""
# The generation as last read from the shared cache, and when (time.monotonic()).
_known: tuple[str, float] = ("", 0.0)


def current_generation() -> str:
    global _known
    known, checked_at = _known
    if known and time.monotonic() - checked_at < GENERATION_CHECK_SECONDS:
        return known
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        generation = str(time.time_ns())
        # add(): of two processes starting at once, both end up with the same generation.
        if not cache.add(GENERATION_KEY, generation, timeout=None):
            generation = cache.get(GENERATION_KEY) or generation
    _known = (str(generation), time.monotonic())
    return str(generation)


def invalidate() -> None:
    """After the current transaction commits, make every process rebuild what the public sees."""
    transaction.on_commit(invalidate_now)


def invalidate_now() -> None:
    global _known
    generation = str(time.time_ns())
    cache.set(GENERATION_KEY, generation, timeout=None)
    _known = (generation, time.monotonic())
    with _local_lock:
        _local.clear()


def get(key: str, build: Callable[[], Payload]) -> Payload:
    """The body cached under `key` for the current generation, built by `build()` when missing."""
    global _local_generation
    generation = current_generation()
    now = time.time()
    if generation != _local_generation:
        # Another process published a change: what this one holds is all out of date.
        with _local_lock:
            _local.clear()
            _local_generation = generation
    held = _local.get(key)
    if held is not None and held[0] == generation and held[1].expires_at > now:
        return held[1]
    shared_key = f"comms:public:{generation}:{key}"
    payload = cache.get(shared_key)
    if not isinstance(payload, Payload) or payload.expires_at <= now:
        payload = build()
        cache.set(shared_key, payload, timeout=max(1, int(payload.expires_at - now)))
    with _local_lock:
        _local[key] = (generation, payload)
    return payload
