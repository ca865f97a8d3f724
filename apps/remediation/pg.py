"""The protected PostgreSQL database as the database actions reach it: its connection pieces from
TARGET_DATABASE_URL (the password only ever in the environment of a program, never in its
arguments, and masked in the log), the client programs (PG_BIN_DIR), and psycopg connections
whose statements stop at the run's deadline."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from django.conf import settings
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from apps.remediation.catalog import ActionError

if TYPE_CHECKING:
    from apps.remediation.context import RunContext

PROGRAMS = frozenset({"pg_dump", "pg_restore", "psql"})
APPLICATION_NAME = "incidentcenter-remediation"
# A database name an action creates or is given: lower-case, digits and underscores, as psql
# shows it unquoted; at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# The libpq environment variable for every URL piece the programs may be given.
_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}


@dataclass(frozen=True)
class Target:
    """Connection pieces of the protected database (TARGET_DATABASE_URL)."""

    pieces: dict[str, str] = field(default_factory=dict)

    @property
    def dbname(self) -> str:
        return self.pieces.get("dbname") or self.pieces.get("user") or "postgres"

    @property
    def user(self) -> str:
        return self.pieces.get("user", "")

    @property
    def where(self) -> str:
        """Host and port for messages (never the password)."""
        return f"{self.pieces.get('host') or 'localhost'}:{self.pieces.get('port') or 5432}"

    def env(self, dbname: str | None = None) -> dict[str, str]:
        """The libpq environment for a client program (PGPASSWORD included: argv is visible to
        every user of the host, the environment is not)."""
        pieces = {**self.pieces, "dbname": dbname or self.dbname}
        env = {_ENV[name]: value for name, value in pieces.items() if value}
        env["PGAPPNAME"] = APPLICATION_NAME
        return env

    def connect(self, ctx: RunContext, dbname: str | None = None) -> psycopg.Connection[tuple[Any, ...]]:
        """An autocommit connection whose statements are cancelled at the run's deadline."""
        name = dbname or self.dbname
        try:
            conn = psycopg.connect(
                make_conninfo("", **{**self.pieces, "dbname": name, "application_name": APPLICATION_NAME}),
                autocommit=True,
            )
        except psycopg.Error as error:
            raise ActionError(f"Could not connect to the database {name} on {self.where}: {error}".strip()) from error
        conn.execute("SELECT set_config('statement_timeout', %s, false)", [f"{int(ctx.remaining() * 1000)}ms"])
        return conn


def target(ctx: RunContext) -> Target:
    """The protected database, refused clearly when unset, unreadable, or Incident Center's own."""
    url = settings.TARGET_DATABASE_URL
    if not url:
        raise ActionError("TARGET_DATABASE_URL is not set on this host: there is no protected database to act on.")
    try:
        pieces = {name: str(value) for name, value in conninfo_to_dict(url).items() if value is not None}
    except psycopg.Error as error:
        # Not the URL itself in the message: it may carry the password.
        raise ActionError("TARGET_DATABASE_URL is not a valid PostgreSQL URL.") from error
    unknown = sorted(set(pieces) - set(_ENV))
    if unknown:
        raise ActionError(
            f"TARGET_DATABASE_URL has options the PostgreSQL programs cannot be given: {', '.join(unknown)}."
        )
    if pieces.get("password"):
        ctx.secret(pieces["password"])
    found = Target(pieces)
    if _is_own_database(found):
        raise ActionError("TARGET_DATABASE_URL names Incident Center's own database: the actions refuse to act on it.")
    return found


def _is_own_database(found: Target) -> bool:
    own = settings.DATABASES["default"]
    if not str(own.get("ENGINE", "")).endswith("postgresql"):
        return False
    same_host = (own.get("HOST") or "localhost") == (found.pieces.get("host") or "localhost")
    same_port = str(own.get("PORT") or 5432) == str(found.pieces.get("port") or 5432)
    return same_host and same_port and own.get("NAME") == found.dbname


def program(name: str) -> str:
    """The path of a PostgreSQL client program: in PG_BIN_DIR when set, else found on PATH."""
    if name not in PROGRAMS:
        raise ActionError(f"Internal error: {name!r} is not a PostgreSQL client program.")
    return str(Path(settings.PG_BIN_DIR) / name) if settings.PG_BIN_DIR else name


def dbname_argument(name: str) -> str:
    """`--dbname=<name>` for a client program. libpq reads a value with "=" or a URI prefix as a
    whole connection string, so such a name is refused rather than passed."""
    if not name or "=" in name or name.startswith(("postgres://", "postgresql://")):
        raise ActionError(f"The database name {name!r} cannot be given to the PostgreSQL programs.")
    return f"--dbname={name}"


def database_name(name: str) -> str:
    """`name` when it is a plain database name this product may create or drop."""
    if not DB_NAME.match(name):
        raise ActionError(f"{name!r} is not a database name the actions accept (a-z, 0-9, _; at most 63).")
    return name
