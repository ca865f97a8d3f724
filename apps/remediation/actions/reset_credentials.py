"""`reset_credentials`: the seed's `./reset-all-credentials.sh` ("Change Credentials": database
credentials, sessions).

1. A new strong password (`secrets.token_urlsafe`) for the protected database's application
   role (TARGET_APP_ROLE). Only its SCRAM verifier, computed here by libpq, is sent to the server
   (`ALTER ROLE … PASSWORD %s`, the role as an identifier): the password itself never reaches the
   server's statement log, nor this run's log, result or summary.
2. The password is written to TARGET_SECRET_FILE (mode 0600, parent folder 0700 when created) by a
   temporary file renamed into place, for the application to read when it is restarted.
3. Every other Incident Center session is signed out (the requester's is kept).

Incident Center issues no API tokens (there is no token model to revoke); the Alertmanager token
lives in the environment of the deployment and is rotated there.

Verified by reading the role's stored verifier back (it changed, and is the one sent), the
secret file back (mode 0600, the new password), and by signing in as the role with it. A rotated
password cannot be un-rotated: there is no undo; run it again."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.contrib.sessions.models import Session
from psycopg import sql

from apps.remediation import pg
from apps.remediation.catalog import ActionError, Outcome, RemediationAction, register
from apps.remediation.context import RunContext

NO_TOKENS = "no API tokens are issued by Incident Center; the Alertmanager token lives in the environment"
PASSWORD_BYTES = 32


def _stored_verifier(conn: psycopg.Connection[tuple[Any, ...]], role: str) -> str | None:
    """The role's stored password verifier, or None when this connection may not read pg_authid."""
    try:
        row = conn.execute("SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = %s", [role]).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        return None
    return str(row[0]) if row else None


def _write_secret(path: Path, password: str) -> Path:
    """Write the password to a new 0600 file beside `path`; the caller renames it into place."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        os.chmod(folder, 0o700)
    temporary = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, password.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return temporary


def _sessions_sign_out(ctx: RunContext) -> tuple[int, bool]:
    """Delete every Incident Center session but the requester's. Returns (signed out, kept)."""
    keys = list(Session.objects.values_list("session_key", flat=True))
    keep = ctx.keep_session_digest
    others = [key for key in keys if not keep or hashlib.sha256(key.encode()).hexdigest() != keep]
    kept = len(keys) - len(others)
    if not ctx.would(f"sign out {len(others)} other Incident Center session(s)"):
        return len(others), bool(kept)
    for start in range(0, len(others), 500):
        Session.objects.filter(session_key__in=others[start : start + 500]).delete()
    ctx.log(
        f"Signed out {len(others)} other Incident Center session(s); "
        f"the requester's {'is kept' if kept else 'was not found'}."
    )
    return len(others), bool(kept)


@register
class ResetCredentials(RemediationAction):
    key = "reset_credentials"
    title = "Reset credentials"
    description = (
        "Give the protected database's application role a new strong password (written to the "
        "secret file, mode 0600) and sign out every other Incident Center session. Restart the "
        "application afterwards so it reads the new password."
    )
    dangerous = True
    timeout_seconds = 120
    verification = (
        "The role's stored password hash changed to the new one, the secret file is mode 0600 and "
        "holds it, and the role signs in with it."
    )

    def describe(self, params: dict[str, Any]) -> str:
        role = settings.TARGET_APP_ROLE or "the application role"
        return f"Reset the database password of {role} and sign out other sessions"

    def undo_note(self) -> str:
        return "A rotated password cannot be un-rotated; run it again."

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        role = settings.TARGET_APP_ROLE
        if not role:
            raise ActionError("TARGET_APP_ROLE is not set on this host: there is no application role to reset.")
        db = pg.target(ctx)
        secret_file = Path(settings.TARGET_SECRET_FILE)
        ctx.step(f"Resetting the password of the role {role} on {db.where}")
        with db.connect(ctx) as conn:
            row = conn.execute("SELECT current_user, session_user").fetchone()
            admins = {db.user, *(row or ())}
            if role in admins:
                raise ActionError(
                    f"TARGET_APP_ROLE ({role}) is the role Incident Center itself connects as: it refuses to "
                    "reset its own password. Name the application's role."
                )
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is None:
                raise ActionError(f"The role {role} does not exist on {db.where}: nothing was changed.")
            before = _stored_verifier(conn, role)
            if ctx.dry_run:
                ctx.would(f"set a new password for the role {role} (ALTER ROLE … PASSWORD …)")
                ctx.would(f"write it to {secret_file} (mode 0600)")
                signed_out, kept = _sessions_sign_out(ctx)
                ctx.log(NO_TOKENS)
                return Outcome(
                    f"Dry run: would reset the password of {role} and sign out {signed_out} session(s)",
                    result={"role": role, "secret_file": str(secret_file), "would_sign_out": signed_out},
                )
            password = ctx.secret(secrets.token_urlsafe(PASSWORD_BYTES))
            verifier = ctx.secret(conn.pgconn.encrypt_password(password.encode(), role.encode()).decode())
            temporary = _write_secret(secret_file, password)
            try:
                with psycopg.ClientCursor(conn) as cursor:
                    cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(role)), [verifier])
            except psycopg.Error as error:
                temporary.unlink(missing_ok=True)
                raise ActionError(
                    f"The password of {role} could not be changed ({type(error).__name__}): nothing was changed."
                ) from error
            try:
                os.replace(temporary, secret_file)
            except OSError as error:
                raise ActionError(
                    f"The password of {role} WAS changed, but {secret_file} could not be replaced ({error.strerror}): "
                    f"the new password is in {temporary}; move it there by hand."
                ) from error
            ctx.log(f"New password set for {role} and written to {secret_file}.")
            after = _stored_verifier(conn, role)
        signed_out, kept = _sessions_sign_out(ctx)
        ctx.log(NO_TOKENS)
        ctx.log(
            "Connections opened with the old password stay open: terminate them (terminate_db_connections) "
            "and restart the application so it reads the new password."
        )
        return self._verify(ctx, db, role, secret_file, password, verifier, before, after, signed_out, kept)

    def _sign_in(self, ctx: RunContext, login: pg.Target, role: str) -> bool:
        try:
            with login.connect(ctx) as conn:
                conn.execute("SELECT 1")
        except ActionError as error:
            ctx.log(f"Could not sign in as {role} with the new password: {error}", stream="err")
            return False
        ctx.log(
            f"Signed in as {role} with the new password (where the server trusts every login, the "
            "hash check above is what proves it)."
        )
        return True

    def _verify(
        self,
        ctx: RunContext,
        db: pg.Target,
        role: str,
        secret_file: Path,
        password: str,
        verifier: str,
        before: str | None,
        after: str | None,
        signed_out: int,
        kept: bool,
    ) -> Outcome:
        ctx.step("Checking the new credentials")
        checks: list[bool] = []
        if after is None:
            ctx.log("pg_authid cannot be read by this connection: the stored hash was not compared.")
            hash_changed = None
        else:
            hash_changed = after != before and hmac.compare_digest(after, verifier)
            ctx.log(f"Stored password hash: {'changed to the new one' if hash_changed else 'NOT the new one'}.")
            checks.append(hash_changed)
        mode = stat.S_IMODE(secret_file.stat().st_mode)
        written = secret_file.read_text()
        file_ok = mode == 0o600 and hmac.compare_digest(written, password)
        ctx.log(
            f"Secret file: mode {mode:04o}, {len(written)} characters, "
            f"{'the new password' if file_ok else 'NOT as expected'}."
        )
        checks.append(file_ok)
        signed_in = self._sign_in(ctx, pg.Target({**db.pieces, "user": role, "password": written}), role)
        checks.append(signed_in)
        verified = all(checks)
        summary = f"New password for {role} in {secret_file.name}; {signed_out} other session(s) signed out"
        if not verified:
            summary += " — its checks did NOT all pass: see the log"
        return Outcome(
            summary,
            verified=verified,
            result={
                "role": role,
                "secret_file": str(secret_file),
                "file_mode": f"{mode:04o}",
                "password_length": len(written),
                "hash_changed": hash_changed,
                "signed_in": signed_in,
                "sessions_signed_out": signed_out,
                "session_kept": kept,
                "api_tokens": NO_TOKENS,
            },
        )
