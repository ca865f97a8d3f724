"""`verify_backup`: the seed's "Test restoration from backups to a test environment".

The chosen backup (checked against its recorded SHA-256) is restored into a scratch database on
the protected database's server (`ic_verify_<run>_<random>`, created from template0), checked as
`restore_database` checks the real one (every table there, rows per table, amcheck on B-tree
indexes), and the scratch database is dropped whatever happened. The protected database itself
is not touched. The result says how long the restore took: what a real restore would cost."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
from django.conf import settings
from psycopg import sql

from apps.remediation import pg
from apps.remediation.actions.restore_database import (
    backup_tables,
    check_database,
    resolve_backup,
    restore_argv,
    run_restore,
)
from apps.remediation.catalog import ActionError, ActionParams, Outcome, RemediationAction, register
from apps.remediation.context import RunContext
from apps.remediation.models import Artifact
from apps.remediation.params import ArtifactChoiceField


class Params(ActionParams):
    backup = ArtifactChoiceField(kind=Artifact.Kind.BACKUP, help_text="The backup to test.")


def scratch_name(run_id: int) -> str:
    # PG_SCRATCH_PREFIX is checked when settings load; database_name() checks the whole name again.
    return pg.database_name(f"{settings.PG_SCRATCH_PREFIX}{run_id}_{secrets.token_hex(3)}")


def _drop(ctx: RunContext, admin: psycopg.Connection[tuple[Any, ...]], drop: sql.Composed, scratch: str) -> None:
    try:
        admin.execute(drop)
    except psycopg.Error as error:
        ctx.log(f"The scratch database {scratch} could not be dropped ({str(error).strip()}): drop it by hand.", "err")
    else:
        ctx.log(f"Dropped the database {scratch}.")


@register
class VerifyBackup(RemediationAction):
    key = "verify_backup"
    title = "Verify a backup"
    description = (
        "Restore a recorded backup into a scratch database on the same server, check it as a real "
        "restore is checked, and drop the scratch database. The protected database is not touched."
    )
    Params = Params
    # It creates and drops a scratch database: a dry run shows how.
    changes_state = True
    timeout_seconds = 3 * 3600
    verification = (
        "The backup restores: every table of it is there, rows are counted per table, and B-tree "
        "indexes pass amcheck (where the extension is available)."
    )

    def describe(self, params: dict[str, Any]) -> str:
        backup = params.get("backup") or "latest"
        return "Verify the newest backup" if backup == "latest" else f"Verify the backup {backup}"

    def undo_note(self) -> str:
        return "It changes nothing that stays: its scratch database is dropped when it ends."

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        db = pg.target(ctx)
        artifact, path = resolve_backup(ctx, params["backup"])
        tables = backup_tables(ctx, path)
        scratch = scratch_name(ctx.run_id)
        argv = restore_argv(path, scratch, clean=False)
        create = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch))
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
        ctx.step(f"Restoring {artifact.name} into the scratch database {scratch} on {db.where}")
        if ctx.dry_run:
            ctx.would(f"create the database {scratch}")
            ctx.command(argv, env=db.env(scratch))
            ctx.would(f"check it, then drop the database {scratch}")
            return Outcome(f"Dry run: would restore {artifact.name} into {scratch}", result={"backup": artifact.name})
        with db.connect(ctx) as admin:
            try:
                admin.execute(create)
            except psycopg.Error as error:
                raise ActionError(
                    f"The scratch database {scratch} could not be created: {str(error).strip()}"
                ) from error
            ctx.log(f"Created the database {scratch}.")
            try:
                seconds = run_restore(ctx, argv, db.env(scratch))
                with db.connect(ctx, scratch) as conn:
                    checks = check_database(ctx, conn, tables)
            finally:
                _drop(ctx, admin, drop, scratch)
        summary = (
            f"{artifact.name} restores in {seconds:.0f} s: {checks.tables} table(s), {sum(checks.rows.values())} row(s)"
        )
        if not checks.ok:
            summary += " — but its checks did NOT pass: see the log"
        return Outcome(
            summary,
            verified=checks.ok,
            result={
                "backup": artifact.name,
                "scratch_database": scratch,
                "restore_seconds": round(seconds, 3),
                **checks.as_result(),
            },
        )
