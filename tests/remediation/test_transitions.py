"""A run's one transition table: the services refuse every move it does not hold, and the run
page offers exactly the moves it holds (to those whose role allows them)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.remediation import services
from apps.remediation.models import ActionRun, ApprovalRule
from tests.remediation.conftest import execute, request_run

pytestmark = pytest.mark.django_db
State = ActionRun.State
OFF = {"mode": "off"}


def test_the_table_holds_the_runs_lifecycle():
    table = ActionRun.TRANSITIONS
    assert table.allowed(State.AWAITING_APPROVAL) == {State.QUEUED, State.REJECTED, State.CANCELLED}
    assert table.allowed(State.QUEUED) == {State.RUNNING, State.CANCELLED}
    assert table.allowed(State.RUNNING) == {State.SUCCEEDED, State.FAILED, State.LOST}
    assert set(ActionRun.FINISHED_STATES) == {
        State.SUCCEEDED,
        State.FAILED,
        State.CANCELLED,
        State.REJECTED,
        State.LOST,
    }
    assert set(ActionRun.OPEN_STATES) == {State.AWAITING_APPROVAL, State.QUEUED, State.RUNNING}
    assert set(table.table) == set(State.values)
    assert ActionRun.TRANSITIONS.sources(State.RUNNING) == [State.QUEUED]


def test_the_services_refuse_moves_the_table_does_not_hold(responder, manager, local_host):
    queued = request_run(responder, "maintenance_mode", OFF, host=local_host)
    with pytest.raises(services.RunRuleError, match="is queued: there is nothing to approve"):
        services.run_approve(run_id=queued.pk, user=manager)
    with pytest.raises(services.RunRuleError, match="is queued: it can no longer be rejected"):
        services.run_reject(run_id=queued.pk, user=manager, note="no")
    services.run_claim(run_id=queued.pk, worker="test")
    with pytest.raises(services.RunRuleError, match="is running: only a waiting run can be cancelled"):
        services.run_cancel(run_id=queued.pk, user=responder)
    services.run_finish(run_id=queued.pk, finish=services.Finish(State.SUCCEEDED, "done"))
    assert services.run_lost(run_id=queued.pk) is False
    assert services.run_finish(run_id=queued.pk, finish=services.Finish(State.FAILED, "again")) is None
    queued.refresh_from_db()
    assert (queued.state, queued.summary) == (State.SUCCEEDED, "done")


def _page(client: Client, run: ActionRun) -> str:
    return client.get(reverse("remediation:run", args=[run.pk])).content.decode()


def test_the_run_page_offers_the_decisions_while_the_table_holds_them(
    responder_client, manager_client, responder, manager, local_host
):
    ApprovalRule.objects.create(action="maintenance_mode", needs_approval=True)
    run = request_run(responder, "maintenance_mode", OFF, host=local_host)
    waiting = _page(manager_client, run)
    assert "Approve and run" in waiting
    assert ">Reject</button>" in waiting
    assert "Cancel run" in waiting
    assert "Approve and run" not in _page(responder_client, run)  # never the requester
    assert "Cancel run" in _page(responder_client, run)
    services.run_approve(run_id=run.pk, user=manager)
    queued = _page(manager_client, run)
    assert "Approve and run" not in queued
    assert ">Reject</button>" not in queued
    assert "Cancel run" in queued
    execute(run)
    done = _page(manager_client, run)
    assert "Cancel run" not in done
    assert "Approve and run" not in done


def test_keep_is_offered_only_while_a_revert_timer_runs(responder_client, responder, local_host):
    timed = execute(
        request_run(responder, "maintenance_mode", {"mode": "on", "message": "x"}, host=local_host, revert_minutes=5)
    )
    assert timed.revert_pending
    assert "Keep this change" in _page(responder_client, timed)
    services.run_keep(run_id=timed.pk, user=responder)
    timed.refresh_from_db()
    assert not timed.revert_pending
    assert "Keep this change" not in _page(responder_client, timed)


def test_a_role_without_the_right_sees_no_button_the_table_would_allow(comms: User, responder, local_host):
    run = request_run(responder, "maintenance_mode", OFF, host=local_host)
    client = Client()
    client.force_login(comms)
    page = _page(client, run)
    assert "Cancel run" not in page
    assert "Approve and run" not in page
