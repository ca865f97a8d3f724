"""reset_credentials against a real PostgreSQL role and real Incident Center sessions: the role's
stored password hash changes, the 0600 secret file holds the new password, other sessions are
signed out and the requester's kept, and the password appears nowhere in the run's record."""

from __future__ import annotations

import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import override_settings
from psycopg import sql

from apps.incidents.models import TimelineEvent
from apps.remediation import services
from apps.remediation.actions.reset_credentials import NO_TOKENS
from apps.remediation.models import ActionRun, RunLogLine
from tests.remediation import pg_target
from tests.remediation.conftest import execute, log_text, request_run
from tests.remediation.pg_target import PASSWORD, connect

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
# The protected database (ic_target_*): a filled template per module, a copy per test.
filled_template = pg_target.filled_template
target = pg_target.target
State = ActionRun.State


@pytest.fixture
def app_role(target) -> Iterator[str]:  # type: ignore[no-untyped-def]
    role = f"ic_target_app_{secrets.token_hex(4)}"
    with connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'old-password'").format(sql.Identifier(role)))
    try:
        with override_settings(TARGET_APP_ROLE=role):
            yield role
    finally:
        with connect() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def stored_hash(role: str) -> str:
    with connect() as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role]).fetchone()
    assert row is not None
    return str(row[0])


def sessions(count: int) -> list[str]:
    keys = []
    for _ in range(count):
        store = SessionStore()
        store["_auth_user_id"] = "1"
        store.create()
        keys.append(store.session_key)
    return keys


def test_it_rotates_the_password_writes_the_secret_file_and_signs_out_other_sessions(
    responder, manager, local_host, action_folders, app_role, tmp_path
):
    mine, *_others = sessions(4)
    old = stored_hash(app_role)

    run = request_run(responder, "reset_credentials", {}, host=local_host, session_key=mine)
    assert run.state == State.AWAITING_APPROVAL
    services.run_approve(run_id=run.pk, user=manager)
    run = execute(run)

    assert run.state == State.SUCCEEDED, log_text(run)
    assert run.verified, (run.result, log_text(run))
    new = stored_hash(app_role)
    assert new != old
    assert new.startswith("SCRAM-SHA-256$")
    secret_file = Path(tmp_path / "secrets" / "target-db-password")
    password = secret_file.read_text()
    assert len(password) >= 40
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret_file.parent.stat().st_mode) == 0o700
    assert [path.name for path in secret_file.parent.iterdir()] == [secret_file.name]  # no temporary left
    assert list(Session.objects.values_list("session_key", flat=True)) == [mine]
    assert run.result["sessions_signed_out"] == 3
    assert run.result["session_kept"] is True
    assert run.result["hash_changed"] is True
    assert run.result["file_mode"] == "0600"
    # The password is nowhere in the record: log, result, summary, timeline.
    events = [f"{event.text} {event.data}" for event in TimelineEvent.objects.select_related("run__host")]
    record = [log_text(run), str(run.result), run.summary, *events]
    assert not [text for text in record if password in text or PASSWORD in text or new in text]
    assert not RunLogLine.objects.filter(text__contains=password).exists()
    assert NO_TOKENS in log_text(run)


def test_the_role_signs_in_with_the_new_password(responder, manager, local_host, app_role, tmp_path):
    run = request_run(responder, "reset_credentials", {}, host=local_host)
    services.run_approve(run_id=run.pk, user=manager)
    run = execute(run)
    password = (tmp_path / "secrets" / "target-db-password").read_text()
    with connect(user=app_role, password=password) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (app_role,)
    assert run.result["signed_in"] is True
    # Without a requester's session (asked by Incident Center itself) every session goes.
    assert run.result["session_kept"] is False


def test_dry_run_changes_nothing(responder, local_host, app_role, tmp_path):
    keys = sessions(2)
    old = stored_hash(app_role)
    run = execute(request_run(responder, "reset_credentials", {}, host=local_host, dry_run=True, session_key=keys[0]))
    assert run.state == State.SUCCEEDED
    assert not run.verified
    assert stored_hash(app_role) == old
    assert not (tmp_path / "secrets").exists()
    assert Session.objects.count() == 2
    assert "would sign out 1 other Incident Center session(s)" in log_text(run)


def test_it_refuses_without_an_application_role(responder, manager, local_host, target):
    with override_settings(TARGET_APP_ROLE=""):
        run = request_run(responder, "reset_credentials", {}, host=local_host)
        services.run_approve(run_id=run.pk, user=manager)
        run = execute(run)
    assert run.state == State.FAILED
    assert "TARGET_APP_ROLE is not set" in run.summary


def test_it_refuses_to_reset_its_own_role(responder, manager, local_host, target, tmp_path):
    old = stored_hash("postgres")
    with override_settings(TARGET_APP_ROLE="postgres"):
        run = request_run(responder, "reset_credentials", {}, host=local_host)
        services.run_approve(run_id=run.pk, user=manager)
        run = execute(run)
    assert run.state == State.FAILED
    assert "the role Incident Center itself connects as" in run.summary
    assert stored_hash("postgres") == old
    assert not (tmp_path / "secrets").exists()


def test_a_role_that_does_not_exist_is_refused(responder, manager, local_host, target, tmp_path):
    with override_settings(TARGET_APP_ROLE="ic_target_nobody"):
        run = request_run(responder, "reset_credentials", {}, host=local_host)
        services.run_approve(run_id=run.pk, user=manager)
        run = execute(run)
    assert run.state == State.FAILED
    assert "does not exist" in run.summary
    assert not (tmp_path / "secrets").exists()
