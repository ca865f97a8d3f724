"""terminate_db_connections against a real PostgreSQL database: real connections opened by the
test are terminated (and gone), the action's own is not, and a dry run only lists them."""

from __future__ import annotations

import psycopg
import pytest

from apps.remediation import services
from apps.remediation.models import ActionRun
from tests.remediation import pg_target
from tests.remediation.conftest import execute, log_text, request_run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
# The protected database (ic_target_*): a filled template per module, a copy per test.
filled_template = pg_target.filled_template
target = pg_target.target
State = ActionRun.State


def alive(conn: psycopg.Connection) -> bool:  # type: ignore[type-arg]
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def test_it_waits_for_approval_then_terminates_every_other_connection(responder, manager, target):
    from django.conf import settings

    from apps.health.models import Host

    host = Host.objects.create(name=settings.INCIDENTCENTER_HOST)
    idle = target.connect(application_name="shop-web")
    busy = target.connect(application_name="intruder", autocommit=False)
    busy.execute("SELECT count(*) FROM orders")  # idle in transaction, holding a lock
    pids = {idle.info.backend_pid, busy.info.backend_pid}

    run = request_run(responder, "terminate_db_connections", {}, host=host)
    assert run.state == State.AWAITING_APPROVAL
    assert execute(run).state == State.AWAITING_APPROVAL
    assert alive(idle)
    services.run_approve(run_id=run.pk, user=manager)
    run = execute(run)

    assert run.state == State.SUCCEEDED, log_text(run)
    assert run.verified
    assert run.result["terminated"] == 2
    assert run.result["still_there"] == 0
    assert run.result["by_application"] == {"shop-web": 1, "intruder": 1}
    assert run.result["by_state"] == {"idle": 1, "idle in transaction": 1}
    assert not alive(idle)
    assert not alive(busy)
    remaining = target.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)])
    assert remaining == 0
    assert "2 connection(s) terminated" in run.summary


def test_dry_run_lists_the_connections_and_terminates_none(responder, local_host, target):
    other = target.connect(application_name="shop-worker")
    run = execute(request_run(responder, "terminate_db_connections", {}, host=local_host, dry_run=True))
    assert run.state == State.SUCCEEDED
    assert not run.verified
    assert alive(other)
    text = log_text(run)
    assert f"pid {other.info.backend_pid}: postgres from 127.0.0.1, shop-worker, idle" in text
    assert "would terminate these 1 connection(s)" in text
    other.close()


def test_with_no_other_connection_there_is_nothing_to_do_and_it_is_verified(responder, local_host, target):
    from apps.remediation.models import ApprovalRule

    ApprovalRule.objects.create(action="terminate_db_connections", needs_approval=False)
    run = execute(request_run(responder, "terminate_db_connections", {}, host=local_host))
    assert run.state == State.SUCCEEDED
    assert run.verified
    assert run.result["terminated"] == 0
