"""What an action sees while it runs on the worker: a log that streams to the browser and is
stored, commands run as argument lists (never a shell) with their output streamed line by line
and a timeout that kills the whole process group, dry-run handling, and the files it produces."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.remediation.catalog import ActionError

logger = logging.getLogger(__name__)

# A file name an action may be given or may produce: no separators, no leading dot, no "..".
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
MAX_LINE = 2000
KEPT_LINES = 2000
# Lines are stored and shown at least this often: by the next line, or by the run's heartbeat
# thread while a command is silent (its last line would otherwise wait for the next one).
FLUSH_SECONDS = 0.2
REDACTED = "••••••"


def safe_child(folder: Path, name: str) -> Path:
    """`folder / name` for a bare, safe file name, proven to stay inside `folder`: the one check
    of every file name remediation is given, records or serves (backups, snapshots, evidence)."""
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise ActionError(f"{name!r} is not a file name this action accepts (letters, digits, . _ - only).")
    root = folder.resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise ActionError(f"{name!r} is outside {root}.")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class CommandResult:
    returncode: int
    lines: list[str] = field(default_factory=list)
    dry: bool = False

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@dataclass
class ProducedFile:
    kind: str
    path: Path
    label: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


class RunContext:
    """Built by the executor for one run. `sink(lines)` stores and broadcasts log lines."""

    def __init__(
        self,
        *,
        run_id: int,
        host: Any,
        incident: Any,
        requested_by: Any,
        dry_run: bool,
        timeout_seconds: float,
        sink: Callable[[list[tuple[str, str]]], object],
        keep_session_digest: str = "",
    ) -> None:
        self.run_id = run_id
        self.host = host
        self.incident = incident
        self.requested_by = requested_by
        self.dry_run = dry_run
        self.keep_session_digest = keep_session_digest
        self.deadline = time.monotonic() + timeout_seconds
        self.timeout_seconds = timeout_seconds
        self._sink = sink
        self._buffer: list[tuple[str, str]] = []
        self._last_flush = time.monotonic()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.produced: list[ProducedFile] = []

    # --- the log -------------------------------------------------------------------------
    def secret(self, value: str) -> str:
        """Never let `value` reach the log (nor the browser): it is masked wherever it appears."""
        if value:
            self._secrets.add(value)
        return value

    def log(self, text: str, stream: str = "out") -> None:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = text.rstrip("\n")[:MAX_LINE]
        with self._lock:
            self._buffer.append((stream, text))
            due = len(self._buffer) >= 50 or time.monotonic() - self._last_flush >= FLUSH_SECONDS
        if due:
            self.flush()

    def step(self, text: str) -> None:
        """A heading line: what the action is doing now."""
        self.log(text, stream="step")

    def flush(self) -> None:
        # One flush at a time (the heartbeat thread flushes too), so lines are stored in order.
        with self._flush_lock:
            with self._lock:
                lines, self._buffer = self._buffer, []
                self._last_flush = time.monotonic()
            if lines:
                self._sink(lines)

    # --- dry run ---------------------------------------------------------------------------
    def would(self, what: str) -> bool:
        """In a dry run, log "would <what>" and answer False; otherwise answer True."""
        if self.dry_run:
            self.log(f"would {what}", stream="dry")
            return False
        return True

    # --- commands ---------------------------------------------------------------------------
    def remaining(self) -> float:
        return max(0.1, self.deadline - time.monotonic())

    def command(
        self,
        argv: list[str],
        *,
        changes_state: bool = True,
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
        quiet: bool = False,
    ) -> CommandResult:
        """Run `argv` (a list, never a shell). In a dry run a command that changes state is only
        shown. Output lines stream to the log as they come; after `timeout` (or the run's
        deadline) the whole process group is killed."""
        if not argv or not all(isinstance(part, str) for part in argv):
            raise ActionError("Internal error: a command must be a non-empty list of strings.")
        shown = shlex.join(argv)
        if self.dry_run and changes_state:
            self.log(f"would run: {shown}", stream="dry")
            return CommandResult(0, dry=True)
        self.log(f"$ {shown}", stream="cmd")
        limit = min(timeout, self.remaining()) if timeout else self.remaining()
        try:
            process = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
                text=True,
                errors="replace",
            )
        except FileNotFoundError as error:
            raise ActionError(f"{argv[0]} is not installed on this host ({error.strerror}).") from error
        except PermissionError as error:
            raise ActionError(f"{argv[0]} may not be run by this worker ({error.strerror}).") from error
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(limit, kill)
        timer.daemon = True
        timer.start()
        lines: list[str] = []
        try:
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip("\n")
                if len(lines) < KEPT_LINES:
                    lines.append(line)
                if not quiet:
                    self.log(line)
            returncode = process.wait()
        finally:
            timer.cancel()
            if process.poll() is None:
                kill()
                process.wait()
            # A long-lived worker runs many commands: each pipe is closed, never left to the GC.
            if process.stdout is not None:
                process.stdout.close()
        if killed.is_set():
            raise ActionError(f"{argv[0]} did not finish within {limit:.0f} s; its process group was killed.")
        if check and returncode != 0:
            raise ActionError(f"{argv[0]} failed with exit status {returncode}.")
        return CommandResult(returncode, lines)

    # --- files ---------------------------------------------------------------------------
    def produced_file(self, kind: str, path: Path, *, label: str = "", meta: dict[str, Any] | None = None) -> None:
        """Record a file this run made (a backup, a snapshot, a bundle): its size and SHA-256
        are stored with the run when it finishes."""
        self.produced.append(ProducedFile(kind, path, label, meta or {}))


def joined(items: Iterable[str]) -> str:
    return ", ".join(items) or "none"
