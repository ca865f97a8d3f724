"""The worker side of a run: claim it, re-validate it, run it, record how it ended."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections

from apps.remediation import catalog, services
from apps.remediation.catalog import ActionError, Outcome
from apps.remediation.context import FLUSH_SECONDS, RunContext, sha256_of
from apps.remediation.models import ActionRun, Artifact

logger = logging.getLogger(__name__)
State = ActionRun.State


def worker_name() -> str:
    return f"{settings.INCIDENTCENTER_HOST}:{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """Beats for the run while it executes (a long restore can be silent for minutes): the
    sweeper calls a run lost only when its worker stopped beating. Meanwhile it stores the log
    lines still waiting in the buffer (`flush`), so the last line before a silent stretch reaches
    the page, and the record if the worker dies, at once rather than with the next line."""

    def __init__(self, run_id: int, flush: Callable[[], None] | None = None) -> None:
        self.run_id = run_id
        self.flush = flush
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"run-{run_id}-heartbeat", daemon=True)

    def _beat(self) -> None:
        try:
            next_beat = time.monotonic() + settings.REMEDIATION_HEARTBEAT_SECONDS
            while not self.stop.wait(FLUSH_SECONDS if self.flush else settings.REMEDIATION_HEARTBEAT_SECONDS):
                if self.flush is not None:
                    try:
                        self.flush()
                    except Exception:
                        logger.warning("run %s: log lines not stored", self.run_id, exc_info=True)
                if time.monotonic() >= next_beat:
                    try:
                        services.run_heartbeat(self.run_id)
                    except Exception:  # a database hiccup must not silence the run for good
                        logger.warning("run %s: heartbeat not stored", self.run_id, exc_info=True)
                        close_old_connections()
                    next_beat = time.monotonic() + settings.REMEDIATION_HEARTBEAT_SECONDS
        finally:
            close_old_connections()

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def execute(run_id: int) -> str:
    """Run one action run if this worker may claim it. Returns the state it ended in, or
    "not claimed" (a duplicate, a replay, a run for another host, not approved, cancelled)."""
    run = services.run_claim(run_id=run_id, worker=worker_name())
    if run is None:
        logger.info("run %s not claimed (not queued, not approved, or not for this host)", run_id)
        return "not claimed"
    try:
        action = catalog.get(run.action)
    except KeyError:
        return _finish(run.pk, services.Finish(State.FAILED, f"Unknown action {run.action!r}: nothing was run."))
    form = action.Params(data=run.params, host=run.host)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items())
        services.log_append(run.pk, [("err", f"Parameters refused by the worker: {problems}")])
        return _finish(run.pk, services.Finish(State.FAILED, f"Parameters refused by the worker: {problems}"[:500]))
    ctx = RunContext(
        run_id=run.pk,
        host=run.host,
        incident=run.incident,
        requested_by=run.requested_by,
        dry_run=run.dry_run,
        timeout_seconds=action.timeout_seconds,
        sink=lambda lines: services.log_append(run.pk, lines),
        keep_session_digest=run.keep_session_digest,
    )
    if run.dry_run:
        ctx.step("Dry run: nothing is changed; these are the commands and files it would touch.")
    with Heartbeat(run.pk, flush=ctx.flush):
        try:
            outcome: Outcome = action.execute(ctx, form.cleaned_data)
        except ActionError as error:
            ctx.log(str(error), stream="err")
            ctx.flush()
            return _finish(run.pk, services.Finish(State.FAILED, str(error), "error", artifacts=_artifacts(ctx)))
        except Exception as error:  # an action's bug must still end the run, never leave it running
            logger.exception("run %s failed unexpectedly", run.pk)
            ctx.log(f"Unexpected error: {type(error).__name__}: {error}", stream="err")
            ctx.flush()
            summary = f"Unexpected error: {type(error).__name__}"
            return _finish(run.pk, services.Finish(State.FAILED, summary, "error", artifacts=_artifacts(ctx)))
    ctx.flush()
    return _finish(
        run.pk,
        services.Finish(
            State.SUCCEEDED,
            outcome.summary,
            exit_status="ok",
            verified=outcome.verified,
            result=outcome.result,
            artifacts=_artifacts(ctx),
        ),
    )


def _artifacts(ctx: RunContext) -> list[Artifact]:
    """The files the run produced that are there: recorded whether the run succeeded or not (a
    failed restore names its safety backup, which must then be restorable)."""
    return [
        _artifact(produced.kind, produced.path, produced.label, produced.meta)
        for produced in ctx.produced
        if produced.path.is_file()
    ]


def _artifact(kind: str, path: Path, label: str, meta: dict[str, object]) -> Artifact:
    sha = str(meta.pop("sha256", "")) or sha256_of(path)
    return Artifact(kind=kind, name=path.name, label=label, size=path.stat().st_size, sha256=sha, meta=meta)


def _finish(run_id: int, finish: services.Finish) -> str:
    services.run_finish(run_id=run_id, finish=finish)
    return str(finish.state)
