"""`restore_database`: the seed's `./restore-from-backup.sh latest` (or a chosen backup).

1. The chosen backup is found in BACKUP_DIR by its recorded name and refused when missing or
   when its SHA-256 is not the one recorded when it was made (nothing is changed then).
2. A safety backup of the database as it is now is taken first (label `pre-restore`, recorded
   like any backup): the undo restores from it.
3. Every other connection to the database is terminated.
4. `pg_restore --clean --if-exists --no-owner --single-transaction`: either all of the backup is
   restored or, on an error, nothing is.
5. Verified: every table of the backup is there, rows are counted per table, and amcheck's
   `bt_index_check` reads the B-tree indexes where the extension is available.

"latest" is the newest backup that is not itself a safety backup: a safety backup holds the
state a restore was meant to replace, so it is restored only when chosen by name (or by undo)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from psycopg import sql

from apps.remediation import pg
from apps.remediation.actions.backup_database import list_backup, size_text, take_backup
from apps.remediation.actions.terminate_db_connections import terminate_others
from apps.remediation.catalog import ActionError, ActionParams, Outcome, RemediationAction, register
from apps.remediation.context import RunContext, safe_child, sha256_of
from apps.remediation.models import Artifact
from apps.remediation.params import SAFETY_LABEL, ArtifactChoiceField, newest_artifact

COUNTED_TABLES = 200
LOCK_TIMEOUT = "60s"
CHECKED_INDEXES = 500
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")
# A table in `pg_restore --list`: "215; 1259 16385 TABLE public items owner".
_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA )(\S+) (.+) (\S+)$")


class Params(ActionParams):
    backup = ArtifactChoiceField(kind=Artifact.Kind.BACKUP, help_text="The backup to restore.")


# --- shared with verify_backup -----------------------------------------------------------------


def resolve_backup(ctx: RunContext, name: str) -> tuple[Artifact, Path]:
    """The recorded backup `name` ("latest": the newest that is not a safety backup) and its file,
    proven to be the file that was recorded (same SHA-256)."""
    backups = Artifact.objects.filter(host=ctx.host, kind=Artifact.Kind.BACKUP)
    if name == "latest":
        artifact = newest_artifact(ctx.host, Artifact.Kind.BACKUP)
        if artifact is None:
            raise ActionError("There is no recorded backup on this host to restore: nothing was changed.")
        ctx.log(f"latest: {artifact.name}")
    else:
        found = backups.filter(name=name).first()
        if found is None:
            raise ActionError(f"{name!r} is not a recorded backup on this host: nothing was changed.")
        artifact = found
    path = safe_child(Path(settings.BACKUP_DIR), artifact.name)
    if not path.is_file():
        raise ActionError(f"The backup file {path} is missing: nothing was changed.")
    ctx.step(
        f"Checking {artifact.name} against its record ({size_text(artifact.size)}, SHA-256 {artifact.sha256[:16]}…)"
    )
    actual = sha256_of(path)
    if actual != artifact.sha256:
        raise ActionError(
            f"The backup file {artifact.name} has changed since it was recorded: its SHA-256 is {actual}, "
            f"the record says {artifact.sha256}. It was not restored; nothing was changed."
        )
    ctx.log("SHA-256 matches the record.")
    return artifact, path


def backup_tables(ctx: RunContext, path: Path) -> set[tuple[str, str]]:
    """The tables (schema, name) a backup holds, from its table of contents."""
    entries = list_backup(ctx, path)
    if entries is None:
        raise ActionError(f"pg_restore cannot read {path.name} as a backup: nothing was changed.")
    tables = set()
    for entry in entries:
        match = _TOC_TABLE.match(entry)
        if match:
            tables.add((match.group(1), match.group(2)))
    ctx.log(f"The backup lists {len(entries)} entries, {len(tables)} table(s).")
    return tables


@dataclass
class Checks:
    """What the checks of a restored database found. `ok` only when nothing failed."""

    tables: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    not_counted: int = 0
    missing: list[str] = field(default_factory=list)
    indexes_checked: int = 0
    amcheck: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.missing

    def as_result(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "rows": self.rows,
            "total_rows": sum(self.rows.values()),
            "tables_not_counted": self.not_counted,
            "missing_tables": self.missing,
            "indexes_checked": self.indexes_checked,
            "amcheck": self.amcheck,
            "problems": self.problems,
        }


def check_database(
    ctx: RunContext, conn: psycopg.Connection[tuple[Any, ...]], expected: set[tuple[str, str]]
) -> Checks:
    """Every expected table is there; rows counted per table (exactly, for the first
    COUNTED_TABLES); B-tree indexes checked with amcheck where it is available."""
    checks = Checks()
    ctx.step("Checking the restored database")
    present = conn.execute(
        """SELECT n.nspname, c.relname, c.relispartition FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg\\_%%'
           ORDER BY 1, 2""",
        [list(SYSTEM_SCHEMAS)],
    ).fetchall()
    checks.tables = len(present)
    checks.missing = sorted(f"{schema}.{name}" for schema, name in expected - {(s, n) for s, n, _ in present})
    for table in checks.missing:
        ctx.log(f"missing: table {table} is in the backup but not in the database", stream="err")
    counted = [(schema, name) for schema, name, partition in present if not partition]
    checks.not_counted = max(0, len(counted) - COUNTED_TABLES)
    for schema, name in counted[:COUNTED_TABLES]:
        try:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
            ).fetchone()
        except psycopg.Error as error:
            checks.problems.append(f"{schema}.{name} could not be read: {str(error).strip()}")
            continue
        checks.rows[f"{schema}.{name}"] = int(row[0]) if row else 0
    ctx.log(
        f"{checks.tables} table(s), {sum(checks.rows.values())} row(s) in {len(checks.rows)} counted"
        + (f" ({checks.not_counted} more not counted)" if checks.not_counted else "")
    )
    _check_indexes(ctx, conn, checks)
    for problem in checks.problems:
        ctx.log(problem, stream="err")
    return checks


def _check_indexes(ctx: RunContext, conn: psycopg.Connection[tuple[Any, ...]], checks: Checks) -> None:
    available = conn.execute("SELECT installed_version FROM pg_available_extensions WHERE name = 'amcheck'").fetchone()
    if available is None:
        checks.amcheck = "not available"
        ctx.log("amcheck is not available on this server: the indexes were not checked.")
        return
    created = available[0] is None
    if created:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        except psycopg.Error as error:
            checks.amcheck = "not permitted"
            ctx.log(f"amcheck could not be enabled ({str(error).strip()}): the indexes were not checked.")
            return
    try:
        row = conn.execute(
            """SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
               WHERE e.extname = 'amcheck'"""
        ).fetchone()
        check = sql.SQL("SELECT {}.bt_index_check(%s::regclass)").format(sql.Identifier(row[0] if row else "public"))
        indexes = conn.execute(
            """SELECT c.oid, n.nspname || '.' || c.relname FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE a.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't'
                 AND n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg\\_%%'
               ORDER BY 2 LIMIT %s""",
            [list(SYSTEM_SCHEMAS), CHECKED_INDEXES],
        ).fetchall()
        for oid, name in indexes:
            try:
                conn.execute(check, [oid])
            except psycopg.Error as error:
                checks.problems.append(f"index {name} failed amcheck: {str(error).strip()}")
            else:
                checks.indexes_checked += 1
    finally:
        if created:
            # Leave the database as it was: the extension was only needed for this check.
            conn.execute("DROP EXTENSION IF EXISTS amcheck")
    checks.amcheck = "ok" if checks.indexes_checked == len(indexes) else "failed"
    ctx.log(f"amcheck bt_index_check: {checks.indexes_checked} of {len(indexes)} B-tree index(es) pass.")


def run_restore(ctx: RunContext, argv: list[str], env: dict[str, str]) -> float:
    """Run pg_restore; its seconds. A failure names pg_restore's own error, not only its status."""
    started = time.monotonic()
    done = ctx.command(argv, env=env, check=False)
    if done.returncode != 0:
        errors = [line for line in done.lines if "error" in line.lower()]
        reason = f": {errors[-1].strip()[:300]}" if errors else ""
        raise ActionError(f"pg_restore failed with exit status {done.returncode}{reason}")
    seconds = time.monotonic() - started
    ctx.log(f"pg_restore finished in {seconds:.1f} s.")
    return seconds


def restore_argv(path: Path, dbname: str, *, clean: bool) -> list[str]:
    """pg_restore of the whole backup in one transaction (all or nothing); objects are owned by
    the role that restores (the backup's owners may not exist here)."""
    argv = [pg.program("pg_restore"), "--no-password", "--no-owner", "--single-transaction", "--exit-on-error"]
    if clean:
        argv += ["--clean", "--if-exists"]
    return [*argv, pg.dbname_argument(dbname), str(path)]


# --- the action ---------------------------------------------------------------------------------


@register
class RestoreDatabase(RemediationAction):
    key = "restore_database"
    title = "Restore the database"
    description = (
        "Restore the protected database from a recorded backup (checked against its SHA-256), after "
        "taking a safety backup of it as it is now and terminating its other connections. All or "
        "nothing: one transaction. Put maintenance mode on first so the application does not reconnect."
    )
    Params = Params
    dangerous = True
    timeout_seconds = 3 * 3600
    verification = (
        "Every table of the backup is there, rows are counted per table, and B-tree indexes pass "
        "amcheck (where the extension is available)."
    )

    def describe(self, params: dict[str, Any]) -> str:
        backup = params.get("backup") or "latest"
        return (
            "Restore the database from the newest backup"
            if backup == "latest"
            else f"Restore the database from {backup}"
        )

    def undo(self, params: dict[str, Any], result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        safety = result.get("safety_backup")
        return (self.key, {"backup": safety}) if safety else None

    def undo_note(self) -> str:
        return "Restores the safety backup taken before this restore."

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        db = pg.target(ctx)
        artifact, path = resolve_backup(ctx, params["backup"])
        tables = backup_tables(ctx, path)
        argv = restore_argv(path, db.dbname, clean=True)
        if ctx.dry_run:
            take_backup(ctx, db, SAFETY_LABEL)
            ctx.step(f"Connections to {db.dbname} that would be terminated")
            with db.connect(ctx) as conn:
                terminate_others(ctx, conn)
            ctx.step(f"Restoring {artifact.name} into {db.dbname}")
            ctx.command(argv, env=db.env())
            return Outcome(
                f"Dry run: would restore {artifact.name} after a safety backup", result={"backup": artifact.name}
            )
        safety = take_backup(ctx, db, SAFETY_LABEL)
        if not safety.readable:
            raise ActionError(f"The safety backup {safety.name} cannot be read back: the restore was not started.")
        try:
            ctx.step(f"Terminating the other connections to {db.dbname}")
            with db.connect(ctx) as conn:
                terminated = terminate_others(ctx, conn)
            ctx.step(f"Restoring {artifact.name} into {db.dbname}")
            # Fail within a minute rather than wait for hours behind a client that reconnected
            # since its connection was terminated (the whole restore is rolled back then).
            seconds = run_restore(ctx, argv, {**db.env(), "PGOPTIONS": f"-c lock_timeout={LOCK_TIMEOUT}"})
            with db.connect(ctx) as conn:
                checks = check_database(ctx, conn, tables)
        except (ActionError, psycopg.Error) as error:
            # The safety backup first: the summary is cut at 500 characters.
            raise ActionError(
                f"Restore failed — the database may be partly restored; the safety backup taken before is "
                f"{safety.name}. {str(error).strip()}"
            ) from error
        summary = (
            f"Restored {db.dbname} from {artifact.name} in {seconds:.0f} s: {checks.tables} table(s), "
            f"{sum(checks.rows.values())} row(s); safety backup {safety.name}"
        )
        if not checks.ok:
            summary += " — its checks did NOT pass: see the log"
        return Outcome(
            summary,
            verified=checks.ok,
            result={
                "backup": artifact.name,
                "safety_backup": safety.name,
                "restore_seconds": round(seconds, 3),
                "safety_backup_seconds": round(safety.total_seconds, 3),
                "terminated_connections": len(terminated.ended),
                **checks.as_result(),
            },
        )
