"""`terminate_db_connections`: the seed's
`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '…' AND pid <> pg_backend_pid();`

Every other client connection to the protected database is terminated (never the action's own),
one at a time so that one refused (a superuser's, for a role that is not one) does not hide the
rest. Reports how many, by state and by application. Verified when none of the terminated
connections is still there afterwards (clients that connected since are listed, not counted
against it). A dry run lists the connections it would terminate."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psycopg

from apps.remediation import pg
from apps.remediation.catalog import Outcome, RemediationAction, register
from apps.remediation.context import RunContext

OTHERS = """
    SELECT pid, usename, application_name, coalesce(host(client_addr), 'local'), coalesce(state, ''), backend_start
    FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
    ORDER BY backend_start
"""
WAIT_MS = 5000


@dataclass
class Connection:
    pid: int
    user: str
    application: str
    client: str
    state: str
    since: Any

    def text(self) -> str:
        application = self.application or "no application name"
        return f"pid {self.pid}: {self.user or '?'} from {self.client}, {application}, {self.state or 'unknown'}"


@dataclass
class Terminated:
    """What a termination did: the connections ended, the ones refused and why."""

    found: list[Connection] = field(default_factory=list)
    ended: list[Connection] = field(default_factory=list)
    refused: list[tuple[Connection, str]] = field(default_factory=list)

    def by(self, attribute: str) -> dict[str, int]:
        return dict(Counter(getattr(one, attribute) or "(none)" for one in self.ended))

    def summary(self) -> str:
        text = f"{len(self.ended)} connection(s) terminated"
        return text + (f", {len(self.refused)} refused" if self.refused else "")


def other_connections(conn: psycopg.Connection[tuple[Any, ...]]) -> list[Connection]:
    return [Connection(*row) for row in conn.execute(OTHERS).fetchall()]


def terminate_others(ctx: RunContext, conn: psycopg.Connection[tuple[Any, ...]]) -> Terminated:
    """Terminate every other client connection to this connection's database; in a dry run,
    list them only."""
    others = other_connections(conn)
    ctx.log(f"{len(others)} other connection(s) to the database.")
    for other in others:
        ctx.log(other.text())
    done = Terminated(found=others)
    if not others or not ctx.would(f"terminate these {len(others)} connection(s)"):
        return done
    waits = conn.info.server_version >= 140000
    for other in others:
        try:
            if waits:
                row = conn.execute("SELECT pg_terminate_backend(%s, %s)", [other.pid, WAIT_MS]).fetchone()
            else:
                row = conn.execute("SELECT pg_terminate_backend(%s)", [other.pid]).fetchone()
        except psycopg.Error as error:
            done.refused.append((other, str(error).strip()))
            ctx.log(f"pid {other.pid} refused: {str(error).strip()}", stream="err")
            continue
        done.ended.append(other)
        if not (row and row[0]):
            # Already gone, or still exiting after WAIT_MS: the check afterwards tells which.
            ctx.log(f"pid {other.pid} had already gone or had not exited within {WAIT_MS} ms.")
    ctx.log(done.summary())
    return done


@register
class TerminateDbConnections(RemediationAction):
    key = "terminate_db_connections"
    title = "Terminate database connections"
    description = (
        "Terminate every other connection to the protected database (pg_terminate_backend), e.g. "
        "before a restore or when the application is stuck on locks. Clients reconnect by themselves."
    )
    dangerous = True
    timeout_seconds = 300
    verification = "The terminated connections are looked for again: none may remain."

    def describe(self, params: dict[str, Any]) -> str:
        return "Terminate every other connection to the protected database"

    def undo_note(self) -> str:
        return "A terminated connection cannot be brought back: its clients reconnect by themselves."

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        db = pg.target(ctx)
        ctx.step(f"Connections to {db.dbname} on {db.where}")
        with db.connect(ctx) as conn:
            done = terminate_others(ctx, conn)
            if ctx.dry_run:
                return Outcome(
                    f"Dry run: would terminate {len(done.found)} connection(s)",
                    result={"would_terminate": [other.text() for other in done.found]},
                )
            ctx.step("Checking that they are gone")
            after = other_connections(conn)
        ended = {one.pid for one in done.ended}
        remaining = [one for one in after if one.pid in ended]
        refused = {one.pid for one, _ in done.refused}
        arrived = [one for one in after if one.pid not in ended | refused]
        for one in remaining:
            ctx.log(f"still there: {one.text()}", stream="err")
        if arrived:
            ctx.log(f"{len(arrived)} connection(s) opened since (not counted against the check):")
            for one in arrived:
                ctx.log(one.text())
        verified = not remaining and not done.refused
        summary = done.summary()
        if remaining:
            summary += f"; {len(remaining)} still there"
        return Outcome(
            summary,
            verified=verified,
            result={
                "terminated": len(done.ended),
                "by_state": done.by("state"),
                "by_application": done.by("application"),
                "refused": [f"pid {one.pid} ({one.user}): {why}" for one, why in done.refused],
                "still_there": len(remaining),
                "arrived_since": len(arrived),
            },
        )
