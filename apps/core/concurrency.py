"""Run blocking Django work from async code without queueing behind page requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.db import close_old_connections


def in_worker_thread[**P, R](func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Like channels' `database_sync_to_async`, but on a pool thread rather than the one thread
    that also runs every sync view, so live renders for many open pages run side by side with
    requests. The thread's database connection is released afterwards."""

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(call, thread_sensitive=False)
