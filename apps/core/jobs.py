"""One path for background jobs: `enqueue("remediation.execute_run", run.pk, queue=host.queue)`.

A job is a Celery task named `<app>.<verb_noun>`, sent by that name with ids only: the worker
loads the rows, checks they may still be worked on and claims them, so the database stays the
record and a duplicate message does nothing. `enqueue` sends after the current transaction
commits (it registers `transaction.on_commit` itself: callers never wrap it, never import a tasks
module, never ask how jobs run).

This module is the only code that knows where jobs run. Settings decide it once, from REDIS_URL
(`JOBS_IN_PROCESS`, `WORKER_SERVES_EVERY_HOST`):

- **on Celery workers** (REDIS_URL set): `send_task` to the Redis broker; each host's worker
  consumes `host.<name>`, `celery beat` sends the periodic jobs of `CELERY_BEAT_SCHEDULE`;
- **in this process** (no REDIS_URL: the embedded mode of `make run`, and the tests of a machine
  without Redis): a small runner plays every host's worker (a thread pool) and, in `runserver`, beat
  (a clock thread reading the same `CELERY_BEAT_SCHEDULE`). It looks each job up in Celery's task
  registry by the name a worker would, so both modes run the same task functions.

Why not real Celery processes (a worker and beat beside the web process, on a local broker) in
embedded mode too: without Redis the Channels layer lives in the web process's memory, so a worker
in another process could not push a sample or a run's log to an open page, and the health widgets
and run pages would only change on reload. A broker without Redis (kombu's filesystem or SQLAlchemy
transports) would also put three processes writing to one SQLite file, and `make run` would need a
process manager to start and stop them. Celery's own worker run in a thread of the web process was
the other candidate; it assumes it owns the process (signal handlers, the main thread), and the
memory transport it would need polls once a second. What the embedded runner skips (the broker
hop, routing by queue, acks) is exercised in CI's full pass by the tests that start a real worker.

In embedded mode, jobs that wait (a countdown, an escalation step's due time) live in memory: when
the process stops they are dropped, and the periodic sweeps (remediation.sweep_runs,
paging.audit_escalations, comms.sweep_communications) find their rows and do the work when the
site runs again. Running jobs are given the time to finish at exit.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import Task
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One job as `enqueue` was asked for it (what `captured()` records)."""

    name: str
    ids: tuple[int, ...]
    countdown: float = 0
    eta: datetime | None = None
    queue: str | None = None
    expires: float | None = None


def enqueue(
    task_name: str,
    *ids: int,
    countdown: float = 0,
    eta: datetime | None = None,
    queue: str | None = None,
    expires: float | None = None,
) -> None:
    """Run the task `task_name` with these ids once the current transaction commits (at once
    outside a transaction): after `countdown` seconds, or at `eta` (reckoned when the message
    leaves, after commit), on `queue` (a host's `host.<name>`; the default queue otherwise). A
    job still waiting `expires` seconds after it was sent is dropped.

    A message that cannot be sent (the broker is down) is logged, never raised: the rows are
    written, and each job's periodic sweep sends or does the work again."""
    if not all(type(pk) is int for pk in ids):
        raise TypeError(f"{task_name}: a job carries ids only (ints), not {ids!r}")
    _registered(task_name)  # a misspelt name fails here, in the caller, not later on a worker
    job = Job(task_name, ids, countdown=countdown, eta=eta, queue=queue, expires=expires)
    transaction.on_commit(partial(_send, job))


def serves_host(host_name: str) -> bool:
    """Whether this process does the work of `host_name` (its actions, samples, snapshots)."""
    only = this_host_only()
    return only is None or host_name == only


def this_host_only() -> str | None:
    """The one host this process works for (a worker on its host: INCIDENTCENTER_HOST), or None
    when it works for every host (embedded mode: one process is every host's worker)."""
    return None if settings.WORKER_SERVES_EVERY_HOST else str(settings.INCIDENTCENTER_HOST)


_captures: list[list[Job]] = []


@contextmanager
def captured() -> Iterator[list[Job]]:
    """While open, jobs are recorded in the list it gives instead of being sent: for tests and
    benchmarks that then do the worker's part themselves."""
    jobs: list[Job] = []
    _captures.append(jobs)
    try:
        yield jobs
    finally:
        _captures.remove(jobs)


def _send(job: Job) -> None:
    if _captures:
        _captures[-1].append(job)
        return
    if transaction.get_connection().in_atomic_block:
        # Called back while its transaction is still open: only a test that runs the on-commit
        # callbacks inside its own transaction (which it then rolls back) does that. Nothing the
        # job needs is committed, so no worker could see it; a job sent now would only wait on the
        # test's locks, or act later on another test's rows that reuse the same ids.
        logger.debug("job %s%r not sent: its transaction never committed", job.name, job.ids)
        return
    try:
        if settings.JOBS_IN_PROCESS:
            delay = (job.eta - timezone.now()).total_seconds() if job.eta else job.countdown
            _runner().submit(job.name, job.ids, delay=delay, expires=job.expires)
        else:
            _celery_send(job)
    except Exception:
        logger.exception("job %s%r could not be sent now; its periodic sweep will do the work", job.name, job.ids)


def _celery_send(job: Job) -> None:
    from incidentcenter.celery import app

    options: dict[str, Any] = {}
    if job.eta is not None:
        options["eta"] = job.eta
    elif job.countdown > 0:
        options["countdown"] = job.countdown
    if job.queue:
        options["queue"] = job.queue
    if job.expires:
        options["expires"] = job.expires
    app.send_task(job.name, args=job.ids, **options)


_tasks_imported = False
_tasks_lock = threading.Lock()


def _registered(task_name: str) -> Task:  # type: ignore[type-arg]
    """The task registered under `task_name`, after importing every app's tasks module once (as
    a worker does when it starts; without its start-up checks)."""
    global _tasks_imported
    from incidentcenter.celery import app

    with _tasks_lock:
        if not _tasks_imported:
            app.autodiscover_tasks(force=True)
            _tasks_imported = True
    try:
        return app.tasks[task_name]
    except KeyError:
        raise LookupError(f"no Celery task is named {task_name!r}") from None


# --- the embedded runner ----------------------------------------------------------------------


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    name: str = field(compare=False)
    ids: tuple[int, ...] = field(compare=False)
    expires_at: float | None = field(compare=False, default=None)
    every: float | None = field(compare=False, default=None)


class InProcessRunner:
    """Every host's worker, and in `runserver` beat, inside this process: a thread pool runs the
    jobs, a clock thread starts the delayed and periodic ones when they are due."""

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jobs-worker")
        self._cond = threading.Condition()
        self._waiting: list[_Entry] = []  # a heap, soonest first
        self._running: set[Future[None]] = set()
        self._seq = itertools.count()
        self._clock: threading.Thread | None = None
        self._beat = False
        self._stopping = False

    def submit(self, name: str, ids: tuple[int, ...], *, delay: float = 0, expires: float | None = None) -> None:
        now = time.monotonic()
        entry = _Entry(now + max(delay, 0.0), next(self._seq), name, ids, now + expires if expires else None)
        with self._cond:
            if self._stopping:
                logger.info("job %s%r not run: the embedded runner is stopping", name, ids)
            elif delay <= 0:
                self._start(entry)
            else:
                self._wait_for(entry)

    def start_beat(self, schedule: dict[str, dict[str, Any]]) -> None:
        """Send the periodic jobs of `schedule` (CELERY_BEAT_SCHEDULE: seconds or timedeltas),
        each at once and then every so often, as `celery beat` does."""
        with self._cond:
            if self._beat or self._stopping:
                return
            self._beat = True
            now = time.monotonic()
            for entry in schedule.values():
                every = entry["schedule"]
                seconds = every.total_seconds() if isinstance(every, timedelta) else float(every)
                args = tuple(entry.get("args", ()))
                self._wait_for(_Entry(now, next(self._seq), str(entry["task"]), args, every=seconds))
        logger.info("embedded runner: %d periodic jobs", len(schedule))

    def stop(self, timeout: float = 10.0) -> bool:
        """Drop the waiting jobs, let the running ones finish (for up to `timeout` seconds) and
        stop the threads. True when none of them is left running."""
        with self._cond:
            self._stopping = True
            self._waiting.clear()
            self._cond.notify_all()
            running = list(self._running)
            clock = self._clock
        deadline = time.monotonic() + timeout
        if clock is not None and clock is not threading.current_thread():
            clock.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        # A future cancelled in the queue never counts as done for wait(): leave those out.
        started = [future for future in running if not future.cancelled()]
        _, unfinished = wait(started, timeout=max(0.0, deadline - time.monotonic()))
        if unfinished:
            logger.warning("embedded runner: %d job(s) still running after %.0f s", len(unfinished), timeout)
            return False
        self._pool.shutdown(wait=True)  # idle now: its threads end at once
        return not (clock is not None and clock.is_alive())

    # Called with self._cond held.
    def _wait_for(self, entry: _Entry) -> None:
        heapq.heappush(self._waiting, entry)
        if self._clock is None:
            self._clock = threading.Thread(target=self._tick, name="jobs-clock", daemon=True)
            self._clock.start()
        self._cond.notify()

    # Called with self._cond held.
    def _start(self, entry: _Entry) -> None:
        try:
            future = self._pool.submit(_run, entry.name, entry.ids, entry.expires_at)
        except RuntimeError:
            # The interpreter is exiting and the pool takes no more work: the sweeps will find it.
            self._stopping = True
            return
        self._running.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._cond:
            self._running.discard(future)

    def _tick(self) -> None:
        # Beat starts from AppConfig.ready(): no job before Django has finished loading every app.
        django_apps.ready_event.wait()
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                while self._waiting and self._waiting[0].due <= now and not self._stopping:
                    entry = heapq.heappop(self._waiting)
                    self._start(entry)
                    if entry.every is not None:
                        heapq.heappush(self._waiting, _Entry(now + entry.every, next(self._seq), entry.name,
                                                             entry.ids, every=entry.every))  # fmt: skip
                self._cond.wait(self._waiting[0].due - now if self._waiting else None)


def _run(name: str, ids: tuple[int, ...], expires_at: float | None) -> None:
    """One job on a pool thread, with database connections of its own, closed afterwards."""
    if expires_at is not None and time.monotonic() > expires_at:
        logger.info("job %s%r expired before it could run", name, ids)
        return
    try:
        _registered(name).run(*ids)
    except Exception:
        logger.exception("job %s%r failed", name, ids)
    finally:
        connections.close_all()


_runner_instance: InProcessRunner | None = None
_runner_lock = threading.Lock()


def _runner() -> InProcessRunner:
    global _runner_instance
    with _runner_lock:
        if _runner_instance is None:
            _runner_instance = InProcessRunner()
        return _runner_instance


def stop_in_process(timeout: float = 10.0) -> bool:
    """Stop the embedded runner if one started (see `InProcessRunner.stop`); the next job starts a
    new one. Called at exit, and by the tests before their database goes away."""
    global _runner_instance
    with _runner_lock:
        runner, _runner_instance = _runner_instance, None
    return runner.stop(timeout) if runner is not None else True


atexit.register(stop_in_process)


def start_beat_if_serving(argv: list[str], environ: dict[str, str]) -> bool:
    """In embedded mode, `manage.py runserver` (in the autoreloader's child) is beat too."""
    serving = "runserver" in argv and (environ.get("RUN_MAIN") == "true" or "--noreload" in argv)
    if not settings.JOBS_IN_PROCESS or not serving:
        return False
    _runner().start_beat(settings.CELERY_BEAT_SCHEDULE)
    return True
