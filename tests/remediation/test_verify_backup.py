"""verify_backup against a real PostgreSQL server: the backup is restored into a real scratch
database, checked, and the scratch database is gone afterwards; the protected one is untouched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from apps.remediation.context import sha256_of
from apps.remediation.models import ActionRun, Artifact
from tests.remediation import pg_target
from tests.remediation.conftest import execute, log_text, request_run
from tests.remediation.pg_target import PASSWORD, connect

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
# The protected database (ic_target_*): a filled template per module, a copy per test.
filled_template = pg_target.filled_template
target = pg_target.target
State = ActionRun.State
# Scratch databases of this suite are named like its other databases (ic_target_…).
PREFIX = "ic_target_verify_"


@pytest.fixture(autouse=True)
def scratch_prefix() -> Iterator[None]:
    with override_settings(PG_SCRATCH_PREFIX=PREFIX):
        yield


def scratch_databases() -> list[str]:
    with connect() as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [PREFIX + "%"]).fetchall()
    return [name for (name,) in rows]


def backed_up(user, host) -> Artifact:  # type: ignore[no-untyped-def]
    run = execute(request_run(user, "backup_database", {"label": "nightly"}, host=host))
    assert run.state == State.SUCCEEDED, log_text(run)
    return Artifact.objects.get(run=run)


def test_it_restores_into_a_scratch_database_checks_it_and_drops_it(responder, local_host, target):
    artifact = backed_up(responder, local_host)
    before = target.counts()
    existing = scratch_databases()

    run = execute(request_run(responder, "verify_backup", {"backup": "latest"}, host=local_host))

    assert run.state == State.SUCCEEDED, log_text(run)
    assert run.verified
    assert not run.needs_approval
    assert run.result["backup"] == artifact.name
    assert run.result["rows"] == {"public.customers": 1000, "public.orders": 4000}
    assert run.result["indexes_checked"] == 4
    assert run.result["restore_seconds"] > 0
    assert run.result["scratch_database"].startswith(f"{PREFIX}{run.pk}_")
    assert scratch_databases() == existing  # dropped
    assert target.counts() == before
    text = log_text(run)
    assert f"Created the database {run.result['scratch_database']}" in text
    assert "Dropped the database" in text
    assert PASSWORD not in text


def test_a_backup_that_does_not_restore_fails_and_its_scratch_database_is_dropped(
    responder, local_host, action_folders, target
):
    artifact = backed_up(responder, local_host)
    path = action_folders["BACKUP_DIR"] / artifact.name
    # Damaged where its record cannot see it: the data half cut off, the record updated to match.
    path.write_bytes(path.read_bytes()[: artifact.size // 2])
    Artifact.objects.filter(pk=artifact.pk).update(sha256=sha256_of(path), size=path.stat().st_size)
    existing = scratch_databases()

    run = execute(request_run(responder, "verify_backup", {"backup": artifact.name}, host=local_host))

    assert run.state == State.FAILED
    assert "pg_restore" in run.summary
    assert scratch_databases() == existing


def test_a_tampered_backup_is_refused_before_anything_is_created(responder, local_host, action_folders, target):
    artifact = backed_up(responder, local_host)
    (action_folders["BACKUP_DIR"] / artifact.name).write_bytes(b"not the backup")
    existing = scratch_databases()
    run = execute(request_run(responder, "verify_backup", {"backup": artifact.name}, host=local_host))
    assert run.state == State.FAILED
    assert "has changed since it was recorded" in run.summary
    assert scratch_databases() == existing


def test_dry_run_creates_no_database(responder, local_host, target):
    backed_up(responder, local_host)
    existing = scratch_databases()
    run = execute(request_run(responder, "verify_backup", {"backup": "latest"}, host=local_host, dry_run=True))
    assert run.state == State.SUCCEEDED
    assert not run.verified
    assert scratch_databases() == existing
    text = log_text(run)
    assert f"would create the database {PREFIX}{run.pk}_" in text
    assert "would run: pg_restore" in text


def test_an_unknown_backup_is_refused_by_the_form(local_host):
    from apps.remediation import catalog

    form = catalog.get("verify_backup").Params(data={"backup": "../../x.dump"}, host=local_host)
    assert not form.is_valid()


def test_a_scratch_prefix_that_is_not_a_plain_name_is_refused(responder, local_host, target):
    backed_up(responder, local_host)
    with override_settings(PG_SCRATCH_PREFIX='x"; DROP DATABASE postgres; --'):
        run = execute(request_run(responder, "verify_backup", {"backup": "latest"}, host=local_host))
    assert run.state == State.FAILED
    assert "is not a database name" in run.summary
