"""`backup_database`: the seed's `./backup-database.sh emergency`.

`pg_dump --format=custom` of the protected database (TARGET_DATABASE_URL) into BACKUP_DIR, named
by UTC time and label (`20261126T183000Z-emergency.dump`). The dump is written under a hidden
temporary name and renamed only when complete, so a failed or killed dump leaves no half file
that could be mistaken for a backup. The password reaches pg_dump through its environment, never
its arguments. Verified by `pg_restore --list` reading the finished file back."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.remediation import pg
from apps.remediation.catalog import ActionError, ActionParams, Outcome, RemediationAction, register
from apps.remediation.context import RunContext, safe_child, sha256_of
from apps.remediation.models import Artifact
from apps.remediation.params import label_field


class Params(ActionParams):
    label = label_field(initial="manual", help_text="Part of the file name, e.g. emergency or pre-upgrade.")


@dataclass
class Backup:
    """A finished (or, in a dry run, planned) backup file."""

    path: Path
    label: str
    size: int = 0
    sha256: str = ""
    seconds: float = 0.0
    # The whole of it: the dump, its SHA-256 and reading it back.
    total_seconds: float = 0.0
    entries: int = 0
    readable: bool = False

    @property
    def name(self) -> str:
        return self.path.name


def size_text(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover (the loop returns)


def _free_name(ctx: RunContext, folder: Path, label: str) -> str:
    """`<UTC time>-<label>.dump`, with a counter when that second and label are taken already."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for number in range(1, 100):
        name = f"{stamp}-{label}.dump" if number == 1 else f"{stamp}-{label}-{number}.dump"
        taken = Artifact.objects.filter(host=ctx.host, kind=Artifact.Kind.BACKUP, name=name).exists()
        if not taken and not (folder / name).exists():
            return name
    raise ActionError(f"Too many backups labelled {label} in one second.")


def list_backup(ctx: RunContext, path: Path) -> list[str] | None:
    """The table of contents of a custom-format dump (`pg_restore --list`), or None when the
    file cannot be read as one."""
    listed = ctx.command([pg.program("pg_restore"), "--list", str(path)], changes_state=False, check=False, quiet=True)
    if listed.returncode != 0:
        for line in listed.lines[-5:]:
            ctx.log(line, stream="err")
        return None
    return [line for line in listed.lines if line and not line.startswith(";")]


def take_backup(ctx: RunContext, db: pg.Target, label: str) -> Backup:
    """Dump the protected database into BACKUP_DIR and record the file as a backup artifact.
    In a dry run, only shows the command and the file it would write."""
    folder = Path(settings.BACKUP_DIR)
    name = _free_name(ctx, folder, label)
    path = safe_child(folder, name)
    # The run's id keeps two runs in the same second apart; the file is private from its first byte.
    partial = path.with_name(f".{name}.run{ctx.run_id}.partial")
    argv = [pg.program("pg_dump"), "--format=custom", "--no-password", f"--file={partial}"]
    ctx.step(f"Backing up the database {db.dbname} on {db.where} to {path}")
    if ctx.dry_run:
        ctx.command(argv, env=db.env())
        ctx.would(f"rename it to {path} when complete, then read it back with pg_restore --list")
        return Backup(path, label)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    started = time.monotonic()
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        ctx.command(argv, env=db.env())
        seconds = time.monotonic() - started
        os.chmod(partial, 0o600)
        sha256 = sha256_of(partial)
        size = partial.stat().st_size
        os.replace(partial, path)
        _sync_folder(folder)
    finally:
        partial.unlink(missing_ok=True)
    ctx.log(f"Wrote {name}: {size_text(size)} in {seconds:.1f} s, SHA-256 {sha256}")
    backup = Backup(path, label, size, sha256, seconds)
    ctx.produced_file(
        Artifact.Kind.BACKUP,
        path,
        label=label,
        meta={"duration_seconds": round(seconds, 3), "database": db.dbname, "sha256": sha256},
    )
    entries = list_backup(ctx, path)
    backup.readable = entries is not None
    backup.entries = len(entries or [])
    backup.total_seconds = time.monotonic() - started
    ctx.log(
        f"pg_restore --list reads it back: {backup.entries} entries."
        if backup.readable
        else "pg_restore --list could NOT read the file back."
    )
    return backup


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (pg_dump has already synced the file's data)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@register
class BackupDatabase(RemediationAction):
    key = "backup_database"
    title = "Back up the database"
    description = (
        "pg_dump (custom format) of the protected database into the backup folder, named by UTC time "
        "and label. Its size and SHA-256 are recorded; restore and verify choose from these backups."
    )
    Params = Params
    timeout_seconds = 2 * 3600
    verification = "The finished file is read back with pg_restore --list."

    def describe(self, params: dict[str, Any]) -> str:
        return f"Back up the database (label {params.get('label') or 'manual'})"

    def undo_note(self) -> str:
        return "A backup changes nothing in the database: there is nothing to undo."

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        db = pg.target(ctx)
        backup = take_backup(ctx, db, params.get("label") or "manual")
        if ctx.dry_run:
            return Outcome(
                f"Dry run: would write {backup.name}",
                result={"would_write": str(backup.path), "database": db.dbname},
            )
        summary = f"Backed up {db.dbname} to {backup.name} ({size_text(backup.size)}, {backup.seconds:.1f} s)"
        if not backup.readable:
            summary += ", but pg_restore could not read it back: see the log"
        return Outcome(
            summary,
            verified=backup.readable,
            result={
                "file": backup.name,
                "database": db.dbname,
                "size": backup.size,
                "sha256": backup.sha256,
                "duration_seconds": round(backup.seconds, 3),
                "entries": backup.entries,
            },
        )
