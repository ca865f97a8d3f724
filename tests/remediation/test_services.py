"""The run lifecycle in services: the sweeper (re-send, lost, revert timers), keeping a timed
change, evidence first, and the claim that refuses what must not run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.accounts.models import User
from apps.health.models import Host
from apps.incidents.models import Component, EventKind, Incident, TimelineEvent
from apps.remediation import services
from apps.remediation.models import ActionRun, Artifact
from apps.runbooks.models import Scenario
from tests.factories import declare_incident
from tests.remediation.conftest import execute, log_text, request_run

pytestmark = pytest.mark.django_db
State = ActionRun.State


def _age(run: ActionRun, **fields: timedelta) -> None:
    ActionRun.objects.filter(pk=run.pk).update(**{name: timezone.now() - ago for name, ago in fields.items()})


def test_the_sweeper_sends_again_a_run_nobody_claimed(responder, local_host):
    run = request_run(responder, "maintenance_mode", {"mode": "off"}, host=local_host)
    _age(run, queued_at=timedelta(minutes=5))
    with override_settings(REMEDIATION_RESEND_SECONDS=30):
        report = services.runs_sweep()
    run.refresh_from_db()
    assert report.resent == [run.pk]
    assert run.send_count == 2  # once when requested, once by the sweeper
    assert run.queued_at > timezone.now() - timedelta(seconds=30)
    assert execute(run).state == State.SUCCEEDED  # and the re-sent message runs it once


def test_a_run_whose_worker_went_silent_is_lost_with_its_partial_log(responder, local_host, procedures):
    incident = declare_incident(responder)
    run = request_run(responder, "maintenance_mode", {"mode": "off"}, host=local_host, incident=incident)
    assert services.run_claim(run_id=run.pk, worker="test") is not None
    services.log_append(run.pk, [("out", "half way")])
    _age(run, heartbeat_at=timedelta(minutes=5))
    with override_settings(REMEDIATION_LOST_SECONDS=60):
        report = services.runs_sweep()
    run.refresh_from_db()
    assert report.lost == [run.pk]
    assert run.state == State.LOST
    assert "1 log line(s) kept" in run.summary
    assert log_text(run) == "half way"
    lost = TimelineEvent.objects.get(incident=incident, kind=EventKind.RUN_LOST, run=run)
    assert (lost.actor, lost.component, lost.data) == (None, Component.SWEEPER, {"summary": run.summary})
    # a worker that comes back later cannot turn it into a success
    services.run_finish(run_id=run.pk, finish=services.Finish(State.SUCCEEDED, "late"))
    run.refresh_from_db()
    assert run.state == State.LOST


def test_a_beating_run_is_not_lost(responder, local_host):
    run = request_run(responder, "maintenance_mode", {"mode": "off"}, host=local_host)
    services.run_claim(run_id=run.pk, worker="test")
    assert services.runs_sweep().lost == []


def test_a_revert_timer_that_runs_out_runs_the_undo_by_itself(responder, local_host, action_folders):
    run = execute(
        request_run(
            responder, "maintenance_mode", {"mode": "on", "message": "Down"}, host=local_host, revert_minutes=30
        )
    )
    assert run.revert_due_at is not None
    assert services.runs_sweep().reverted == []  # not due yet
    _age(run, revert_due_at=timedelta(seconds=1))
    assert services.runs_sweep().reverted == [run.pk]
    revert = ActionRun.objects.get(undoes=run)
    assert (revert.action, revert.params, revert.requested_by, revert.state) == (
        "maintenance_mode",
        {"mode": "off", "message": ""},
        None,
        State.QUEUED,
    )
    assert execute(revert).state == State.SUCCEEDED
    assert not (action_folders["MAINTENANCE_DIR"] / "maintenance.flag").exists()
    assert services.runs_sweep().reverted == []  # once only


def test_keeping_a_timed_change_stops_its_timer(responder, second_responder, local_host, action_folders):
    run = execute(
        request_run(responder, "maintenance_mode", {"mode": "on", "message": "Down"}, host=local_host, revert_minutes=5)
    )
    services.run_keep(run_id=run.pk, user=second_responder)
    _age(run, revert_due_at=timedelta(seconds=1))
    assert services.runs_sweep().reverted == []
    assert (action_folders["MAINTENANCE_DIR"] / "maintenance.flag").exists()
    with pytest.raises(services.RunRuleError, match="no revert timer"):
        services.run_keep(run_id=run.pk, user=responder)


def test_a_revert_timer_is_refused_where_the_action_has_none(responder, local_host):
    with pytest.raises(services.RunRuleError, match="cannot take a revert timer"):
        request_run(responder, "verify_web_content", {"snapshot": "latest"}, host=local_host, revert_minutes=5)


@pytest.fixture
def breach(procedures: object, responder: User) -> Incident:
    return declare_incident(responder, scenario=Scenario.SECURITY_BREACH, title="Unknown admin logins")


def test_evidence_first_refuses_without_a_recorded_override(responder, breach, local_host):
    with pytest.raises(services.RunRuleError, match="No forensic bundle"):
        request_run(responder, "restart_service", {"service": "nginx"}, host=local_host, incident=breach)
    assert not ActionRun.objects.exists()
    run = request_run(
        responder,
        "restart_service",
        {"service": "nginx"},
        host=local_host,
        incident=breach,
        evidence_override_reason="The shop is down for everyone; evidence after",
    )
    assert run.evidence_override_reason == "The shop is down for everyone; evidence after"
    assert TimelineEvent.objects.filter(
        incident=breach,
        kind=EventKind.EVIDENCE_OVERRIDDEN,
        run=run,
        actor=responder,
        data={"reason": "The shop is down for everyone; evidence after"},
    ).exists()


def test_evidence_first_is_satisfied_once_a_bundle_exists(responder, breach, local_host):
    Artifact.objects.create(
        kind=Artifact.Kind.EVIDENCE, host=local_host, incident=breach, name="e.tar.gz", sha256="0" * 64
    )
    run = request_run(responder, "restart_service", {"service": "nginx"}, host=local_host, incident=breach)
    assert run.state == State.QUEUED
    assert run.evidence_override_reason == ""


@override_settings(WORKER_SERVES_EVERY_HOST=False)
def test_a_run_for_another_host_is_not_claimed_by_this_worker(responder, db):
    # A worker on its host (Celery mode): it serves INCIDENTCENTER_HOST only.
    other = Host.objects.create(name="db-2")
    run = request_run(responder, "maintenance_mode", {"mode": "off"}, host=other)
    assert services.run_claim(run_id=run.pk, worker="test") is None
    run.refresh_from_db()
    assert run.state == State.QUEUED


@override_settings(WORKER_SERVES_EVERY_HOST=True)
def test_in_embedded_mode_this_process_claims_the_runs_of_every_host(responder, db):
    other = Host.objects.create(name="db-2")
    run = request_run(responder, "maintenance_mode", {"mode": "off"}, host=other)
    claimed = services.run_claim(run_id=run.pk, worker="test")
    assert claimed is not None
    assert claimed.state == State.RUNNING


def test_a_forged_queued_run_that_needs_approval_is_never_claimed(responder, local_host):
    forged = ActionRun.objects.create(
        action="maintenance_mode", host=local_host, params={"mode": "off"}, needs_approval=True, state=State.QUEUED
    )
    assert execute(forged).state == State.QUEUED
    assert forged.started_at is None


def test_the_worker_refuses_parameters_forged_after_the_request(responder, local_host, action_folders):
    run = request_run(responder, "maintenance_mode", {"mode": "on", "message": "x"}, host=local_host)
    ActionRun.objects.filter(pk=run.pk).update(params={"mode": "on; rm -rf /", "message": "x"})
    run = execute(run)
    assert run.state == State.FAILED
    assert "Parameters refused by the worker" in run.summary
    assert not (action_folders["MAINTENANCE_DIR"] / "maintenance.flag").exists()


def test_an_unknown_action_fails_cleanly(local_host, responder):
    forged = ActionRun.objects.create(action="rm_everything", host=local_host, requested_by=responder)
    assert execute(forged).state == State.FAILED


def test_only_those_who_may_run_the_action_may_keep_its_change(responder, manager, comms, local_host):
    run = execute(
        request_run(responder, "maintenance_mode", {"mode": "on", "message": "Down"}, host=local_host, revert_minutes=5)
    )
    for user in (manager, comms):
        with pytest.raises(services.RunRuleError, match="does not allow keeping"):
            services.run_keep(run_id=run.pk, user=user)
    run.refresh_from_db()
    assert run.revert_settled_at is None


def test_a_revert_timer_never_undoes_a_later_change(responder, local_host, action_folders):
    timed = execute(
        request_run(responder, "maintenance_mode", {"mode": "on", "message": "A"}, host=local_host, revert_minutes=5)
    )
    execute(request_run(responder, "maintenance_mode", {"mode": "off"}, host=local_host))
    execute(request_run(responder, "maintenance_mode", {"mode": "on", "message": "The real outage"}, host=local_host))
    _age(timed, revert_due_at=timedelta(seconds=1))
    assert services.runs_sweep().reverted == []
    assert not ActionRun.objects.filter(undoes=timed).exists()
    assert (action_folders["MAINTENANCE_DIR"] / "maintenance.flag").exists()
    timed.refresh_from_db()
    assert timed.revert_settled_at is not None


def test_a_run_called_lost_that_finishes_late_keeps_its_files(responder, local_host, procedures):
    incident = declare_incident(responder)
    run = request_run(responder, "maintenance_mode", {"mode": "off"}, host=local_host, incident=incident)
    services.run_claim(run_id=run.pk, worker="test")
    services.run_lost(run_id=run.pk)
    safety = Artifact(kind=Artifact.Kind.BACKUP, name="safety.dump", label="pre-restore", sha256="0" * 64)
    services.run_finish(run_id=run.pk, finish=services.Finish(State.SUCCEEDED, "done late", artifacts=[safety]))
    run.refresh_from_db()
    assert run.state == State.LOST
    assert Artifact.objects.get(name="safety.dump").run == run
    late = TimelineEvent.objects.get(incident=incident, kind=EventKind.RUN_FINISHED, run=run)
    assert late.data == {"state": "succeeded", "summary": "done late", "after_lost": True}
    assert late.component == Component.WORKER


def test_latest_is_stored_as_the_file_it_means_when_requested(responder, local_host):
    Artifact.objects.create(kind=Artifact.Kind.BACKUP, host=local_host, name="a.dump", label="nightly", sha256="0" * 64)
    Artifact.objects.create(
        kind=Artifact.Kind.BACKUP, host=local_host, name="b.dump", label="pre-restore", sha256="0" * 64
    )
    run = request_run(responder, "verify_backup", {"backup": "latest"}, host=local_host)
    assert run.params == {"backup": "a.dump"}


@pytest.mark.postgres
def test_a_runs_log_is_append_only_in_the_orm_and_the_database(responder, local_host):
    from django.db import DatabaseError, connection, transaction

    from apps.remediation.models import RunLogLine

    run = request_run(responder, "maintenance_mode", {"mode": "off"}, host=local_host)
    services.run_claim(run_id=run.pk, worker="test")
    (line,) = services.log_append(run.pk, [("out", "restoring")])
    line.text = "nothing happened"
    with pytest.raises(PermissionError, match="append-only"):
        line.save()
    with pytest.raises(PermissionError, match="append-only"):
        line.delete()
    with pytest.raises(PermissionError, match="append-only"):
        RunLogLine.objects.filter(run=run).update(text="x")
    refused = "Cannot update or delete rows from remediation_runlogline"  # django-pgtrigger's Protect
    with pytest.raises(DatabaseError, match=refused), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE remediation_runlogline SET text = 'x' WHERE id = %s", [line.pk])
    assert log_text(run) == "restoring"
