"""backup_database and restore_database against a real PostgreSQL database (ic_target_*): real
dumps in a real backup folder, real restores read back with psycopg."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import override_settings

from apps.remediation import catalog, services
from apps.remediation.context import sha256_of
from apps.remediation.models import ActionRun, Artifact
from tests.remediation import pg_target
from tests.remediation.conftest import execute, log_text, request_run
from tests.remediation.pg_target import PASSWORD

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
# The protected database (ic_target_*): a filled template per module, a copy per test.
filled_template = pg_target.filled_template
target = pg_target.target
State = ActionRun.State


def backup(user, host, label="emergency") -> ActionRun:  # type: ignore[no-untyped-def]
    run = execute(request_run(user, "backup_database", {"label": label}, host=host))
    assert run.state == State.SUCCEEDED, log_text(run)
    return run


def approved_restore(requester, approver, host, name: str) -> ActionRun:  # type: ignore[no-untyped-def]
    run = request_run(requester, "restore_database", {"backup": name}, host=host)
    assert run.state == State.AWAITING_APPROVAL
    assert execute(run).state == State.AWAITING_APPROVAL  # a worker does not touch it before approval
    services.run_approve(run_id=run.pk, user=approver)
    return execute(run)


def files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_backup_writes_a_dump_with_its_recorded_size_and_sha256(responder, local_host, action_folders, target):
    run = backup(responder, local_host)
    assert run.verified, (run.result, log_text(run))
    artifact = Artifact.objects.get(run=run)
    assert re.fullmatch(r"\d{8}T\d{6}Z-emergency\.dump", artifact.name)
    path = action_folders["BACKUP_DIR"] / artifact.name
    assert files(action_folders["BACKUP_DIR"]) == [artifact.name]  # no temporary file left
    assert artifact.kind == Artifact.Kind.BACKUP
    assert artifact.label == "emergency"
    assert artifact.size == path.stat().st_size > 10_000
    assert artifact.sha256 == sha256_of(path)
    assert artifact.meta["database"] == target.name
    assert artifact.meta["duration_seconds"] > 0
    assert path.stat().st_mode & 0o777 == 0o600
    assert run.result["sha256"] == artifact.sha256
    assert run.result["entries"] > 5
    text = log_text(run)
    assert "pg_dump --format=custom" in text
    assert "pg_restore --list reads it back" in text
    assert PASSWORD not in text
    assert PASSWORD not in str(run.result)
    assert PASSWORD not in run.summary


def test_two_backups_in_the_same_second_get_different_names(responder, local_host, target):
    first, second = backup(responder, local_host, "twice"), backup(responder, local_host, "twice")
    assert Artifact.objects.get(run=first).name != Artifact.objects.get(run=second).name


def test_backup_dry_run_shows_the_command_and_file_and_writes_nothing(responder, local_host, action_folders, target):
    run = execute(request_run(responder, "backup_database", {"label": "manual"}, host=local_host, dry_run=True))
    assert run.state == State.SUCCEEDED
    assert not run.verified
    assert files(action_folders["BACKUP_DIR"]) == []
    assert not Artifact.objects.exists()
    text = log_text(run)
    assert "would run: pg_dump --format=custom" in text
    assert "-manual.dump" in text


def test_a_failed_dump_leaves_no_half_file(responder, local_host, action_folders, target):
    with override_settings(TARGET_DATABASE_URL=target.url.replace(target.name, "ic_target_missing")):
        run = execute(request_run(responder, "backup_database", {"label": "manual"}, host=local_host))
    assert run.state == State.FAILED
    assert "pg_dump failed" in run.summary
    assert files(action_folders["BACKUP_DIR"]) == []
    assert not Artifact.objects.exists()


def test_backup_without_a_target_database_fails_clearly(responder, local_host):
    with override_settings(TARGET_DATABASE_URL=""):
        run = execute(request_run(responder, "backup_database", {"label": "manual"}, host=local_host))
    assert run.state == State.FAILED
    assert "TARGET_DATABASE_URL is not set" in run.summary


@pytest.mark.parametrize("label", ["Emergency", "../x", "a b", "x" * 31, "-x"])
def test_labels_that_could_reach_a_file_name_are_refused(local_host, label):
    assert not catalog.get("backup_database").Params(data={"label": label}, host=local_host).is_valid()


def test_restore_waits_for_approval_then_brings_the_rows_back(responder, manager, local_host, action_folders, target):
    before = target.counts()
    name = Artifact.objects.get(run=backup(responder, local_host)).name
    with target.connect() as conn:
        conn.execute("DELETE FROM orders WHERE id % 3 = 0")
        conn.execute("UPDATE orders SET total = 0")
    damaged = target.counts()
    assert damaged[1] < before[1]
    bystander = target.connect(application_name="still-connected")

    run = approved_restore(responder, manager, local_host, name)

    assert run.state == State.SUCCEEDED, log_text(run)
    assert run.verified, (run.result, log_text(run))
    assert target.counts() == before
    assert run.result["rows"] == {"public.customers": 1000, "public.orders": 4000}
    assert run.result["tables"] == 2
    assert not run.result["missing_tables"]
    assert run.result["amcheck"] == "ok"
    assert run.result["indexes_checked"] == 4
    assert run.result["terminated_connections"] == 1
    assert bystander.closed or _is_dead(bystander)
    # The safety backup holds the damaged state, is recorded, and is what the undo restores.
    safety = Artifact.objects.get(run=run)
    assert safety.label == "pre-restore"
    assert safety.name == run.result["safety_backup"]
    assert (action_folders["BACKUP_DIR"] / safety.name).is_file()
    assert catalog.get("restore_database").undo(run.params, run.result) == ("restore_database", {"backup": safety.name})
    # amcheck was only borrowed for the check.
    assert target.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'") == 0
    assert PASSWORD not in log_text(run)


def test_undo_restores_the_safety_backup(responder, manager, local_host, target):
    name = Artifact.objects.get(run=backup(responder, local_host)).name
    with target.connect() as conn:
        conn.execute("INSERT INTO customers (email, name) VALUES ('late@example.org', 'Arrived after the backup')")
    restored = approved_restore(responder, manager, local_host, name)
    assert target.scalar("SELECT count(*) FROM customers WHERE email = 'late@example.org'") == 0
    _, params = catalog.get("restore_database").undo(restored.params, restored.result)  # type: ignore[misc]
    undo = approved_restore(responder, manager, local_host, params["backup"])
    assert undo.state == State.SUCCEEDED, log_text(undo)
    assert undo.verified
    assert target.scalar("SELECT count(*) FROM customers WHERE email = 'late@example.org'") == 1


def test_latest_is_the_newest_backup_that_is_not_a_safety_backup(responder, manager, local_host, target):
    name = Artifact.objects.get(run=backup(responder, local_host)).name
    first = approved_restore(responder, manager, local_host, "latest")
    second = approved_restore(responder, manager, local_host, "latest")
    assert first.result["backup"] == second.result["backup"] == name


def test_a_tampered_backup_is_refused_and_nothing_changes(responder, manager, local_host, action_folders, target):
    artifact = Artifact.objects.get(run=backup(responder, local_host))
    with target.connect() as conn:
        conn.execute("DELETE FROM orders WHERE id > 100")
    damaged = target.counts()
    with (action_folders["BACKUP_DIR"] / artifact.name).open("ab") as handle:
        handle.write(b"\0")

    run = approved_restore(responder, manager, local_host, artifact.name)

    assert run.state == State.FAILED
    assert "has changed since it was recorded" in run.summary
    assert artifact.sha256 in run.summary
    assert "nothing was changed" in run.summary
    assert target.counts() == damaged
    assert files(action_folders["BACKUP_DIR"]) == [artifact.name]  # no safety backup either
    assert Artifact.objects.count() == 1


def test_a_missing_backup_file_is_refused(responder, manager, local_host, action_folders, target):
    artifact = Artifact.objects.get(run=backup(responder, local_host))
    (action_folders["BACKUP_DIR"] / artifact.name).unlink()
    run = approved_restore(responder, manager, local_host, artifact.name)
    assert run.state == State.FAILED
    assert "is missing" in run.summary


@pytest.mark.parametrize("name", ["nope.dump", "../../etc/passwd", "/etc/passwd", "x; rm -rf /"])
def test_an_unknown_backup_is_refused_by_the_form_and_by_the_worker(responder, manager, local_host, target, name):
    backup(responder, local_host)
    form = catalog.get("restore_database").Params(data={"backup": name}, host=local_host)
    assert not form.is_valid()
    assert "backup" in form.errors
    before = target.counts()
    run = request_run(responder, "restore_database", {"backup": "latest"}, host=local_host)
    ActionRun.objects.filter(pk=run.pk).update(params={"backup": name})  # forged after validation
    services.run_approve(run_id=run.pk, user=manager)
    run = execute(run)
    assert run.state == State.FAILED
    assert "Parameters refused by the worker" in run.summary
    assert target.counts() == before
    assert Artifact.objects.count() == 1


def test_a_restore_that_fails_names_its_safety_backup_and_changes_nothing(
    responder, manager, local_host, action_folders, target
):
    name = Artifact.objects.get(run=backup(responder, local_host)).name
    with target.connect() as conn:
        conn.execute("DELETE FROM orders WHERE id > 10")
        # A view made after the backup depends on a table the restore must drop: pg_restore fails.
        conn.execute("CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 500")
    damaged = target.counts()

    run = approved_restore(responder, manager, local_host, name)

    assert run.state == State.FAILED
    safety = Artifact.objects.get(run=run)
    assert safety.label == "pre-restore"
    assert (action_folders["BACKUP_DIR"] / safety.name).is_file()
    assert f"the database may be partly restored; the safety backup taken before is {safety.name}" in run.summary
    assert "depend" in run.summary  # pg_restore's own reason
    assert target.counts() == damaged  # one transaction: nothing of it stayed


def test_restore_dry_run_changes_nothing(responder, local_host, action_folders, target):
    name = Artifact.objects.get(run=backup(responder, local_host)).name
    with target.connect() as conn:
        conn.execute("DELETE FROM orders")
    bystander = target.connect()
    run = execute(request_run(responder, "restore_database", {"backup": name}, host=local_host, dry_run=True))
    assert run.state == State.SUCCEEDED, log_text(run)
    assert target.scalar("SELECT count(*) FROM orders") == 0
    assert bystander.execute("SELECT 1").fetchone() == (1,)
    assert files(action_folders["BACKUP_DIR"]) == [name]
    text = log_text(run)
    assert "would run: pg_dump" in text
    assert "would run: pg_restore --no-password --no-owner --single-transaction" in text
    assert "would terminate these 1 connection(s)" in text
    bystander.close()


def _is_dead(conn) -> bool:  # type: ignore[no-untyped-def]
    import psycopg

    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    finally:
        conn.close()
    return False
