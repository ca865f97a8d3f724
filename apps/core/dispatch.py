"""Send work to Celery, or, in the embedded mode of `make run` (no REDIS_URL), run it in this
process off the request thread.

Every message carries ids only and leaves after the transaction commits (the database is the
record). In embedded mode a small runner in the web process plays worker and beat: a thread pool
for tasks, the standard library's `sched` for delays and for the beat schedule in settings.
"""

from __future__ import annotations

import logging
import sched
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.db import close_old_connections, transaction

logger = logging.getLogger(__name__)


def enqueue(task: Task, *args: Any, countdown: float = 0, queue: str | None = None) -> None:  # type: ignore[type-arg]
    """Run `task(*args)` after the current transaction commits: on Celery when Redis is
    configured (on `queue`, after `countdown` seconds), else on the embedded runner."""

    def send() -> None:
        if settings.REDIS_URL:
            options: dict[str, Any] = {"countdown": countdown} if countdown else {}
            if queue:
                options["queue"] = queue
            task.apply_async(args=args, **options)
        else:
            embedded_runner().submit(task.name, args, delay=countdown)

    transaction.on_commit(send)


class EmbeddedRunner:
    """Worker and beat inside one process, for `make run` without Redis."""

    def __init__(self, workers: int = 4) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embedded-task")
        self.scheduler = sched.scheduler(time.monotonic, time.sleep)
        # Re-entrant: a periodic tick, run by the scheduler under the lock, schedules its next run.
        self.lock = threading.RLock()
        self.wakeup = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="embedded-beat", daemon=True)
        self.started = False

    def start(self) -> None:
        with self.lock:
            if self.started:
                return
            self.started = True
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
            self._schedule_periodic(name, entry)
        self.thread.start()
        logger.info("embedded runner started with %d periodic tasks", len(settings.CELERY_BEAT_SCHEDULE))

    def submit(self, task_name: str, args: tuple[Any, ...], delay: float = 0) -> None:
        if delay > 0:
            with self.lock:
                self.scheduler.enter(delay, 1, self._run_now, (task_name, args))
            self.wakeup.set()
        else:
            self._run_now(task_name, args)

    def _run_now(self, task_name: str, args: tuple[Any, ...]) -> None:
        self.pool.submit(self._call, task_name, args)

    @staticmethod
    def _call(task_name: str, args: tuple[Any, ...]) -> None:
        from incidentcenter.celery import app

        _import_tasks_once(app)
        close_old_connections()
        try:
            app.tasks[task_name].run(*args)
        except Exception:
            logger.exception("embedded task %s%r failed", task_name, args)
        finally:
            close_old_connections()

    def _schedule_periodic(self, name: str, entry: dict[str, Any]) -> None:
        # The beat schedule in settings uses seconds or timedeltas, which both runners understand.
        every = entry["schedule"]
        seconds = every.total_seconds() if isinstance(every, timedelta) else float(every)
        task_name = str(entry["task"])
        args = tuple(entry.get("args", ()))

        def tick() -> None:
            self._run_now(task_name, args)
            with self.lock:
                self.scheduler.enter(seconds, 2, tick)

        with self.lock:
            self.scheduler.enter(0, 2, tick)

    def _loop(self) -> None:
        while True:
            with self.lock:
                next_in = self.scheduler.run(blocking=False)
            self.wakeup.wait(timeout=next_in if next_in is not None else 60)
            self.wakeup.clear()


_tasks_imported = False
_tasks_lock = threading.Lock()


def _import_tasks_once(app: Any) -> None:
    """A worker imports every app's tasks module when it starts; do the same, once, before the
    first task runs (other threads wait rather than look up a task not yet registered)."""
    global _tasks_imported
    with _tasks_lock:
        if not _tasks_imported:
            app.loader.import_default_modules()
            _tasks_imported = True


_runner: EmbeddedRunner | None = None
_runner_lock = threading.Lock()


def embedded_runner() -> EmbeddedRunner:
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = EmbeddedRunner()
            _runner.start()
        return _runner


def start_embedded_runner_if_serving(argv: list[str], environ: dict[str, str]) -> bool:
    """Start the runner in `manage.py runserver` without Redis (in the autoreloader's child)."""
    serving = "runserver" in argv and (environ.get("RUN_MAIN") == "true" or "--noreload" in argv)
    if settings.REDIS_URL or not serving:
        return False
    embedded_runner()
    return True
