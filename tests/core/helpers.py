"""Waiting for something that happens in another process."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for[T](condition: Callable[[], T | None], *, timeout: float, interval: float = 0.2, what: str = "") -> T:
    """Poll until `condition()` returns something truthy, and return it; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting for {what or condition}")
        time.sleep(interval)
