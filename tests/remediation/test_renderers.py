"""The words of the events a run records, rendered when read from the run and the event's data:
the same sentences the timeline showed before it was typed, a link to the run, every kind
worded, and the shapes the data migration gives older rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.health.models import Host
from apps.incidents.events import kinds_without_renderer, with_related
from apps.incidents.models import EventKind, Incident, TimelineEvent
from apps.remediation import services
from apps.remediation.models import ActionRun, ApprovalRule
from apps.remediation.renderers import RUN_KINDS
from apps.runbooks.models import Scenario
from tests.factories import declare_incident
from tests.remediation.conftest import execute, request_run

pytestmark = pytest.mark.django_db
State = ActionRun.State
OFF = {"mode": "off"}
ON = {"mode": "on", "message": "Down"}


@pytest.fixture
def incident(procedures: object, responder: User) -> Incident:
    return declare_incident(responder, title="Site down")


def _text(run: ActionRun, kind: EventKind) -> str:
    return TimelineEvent.objects.get(run=run, kind=kind).text


def _where(run: ActionRun) -> str:
    return f"on {run.host.name} (run #{run.pk})"


def test_every_kind_remediation_records_has_its_words():
    assert not set(RUN_KINDS) & set(kinds_without_renderer())
    remediation_kinds = {kind for kind in EventKind if kind.startswith(("run_", "revert_"))}
    remediation_kinds |= {EventKind.BREAK_GLASS, EventKind.EVIDENCE_OVERRIDDEN}
    assert remediation_kinds == set(RUN_KINDS)


def test_a_request_a_start_and_a_finish_read_as_before(responder, incident, local_host):
    run = execute(request_run(responder, "maintenance_mode", OFF, host=local_host, incident=incident))
    assert _text(run, EventKind.RUN_REQUESTED) == f"Requested: Maintenance mode off {_where(run)}"
    assert _text(run, EventKind.RUN_STARTED) == f"Started: Maintenance mode off {_where(run)}"
    assert _text(run, EventKind.RUN_FINISHED) == f"Succeeded: Maintenance mode off {_where(run)} — {run.summary}"
    finished = TimelineEvent.objects.get(run=run, kind=EventKind.RUN_FINISHED)
    assert finished.data == {"state": "succeeded", "summary": run.summary, "exit_status": "ok", "verified": True}


def test_a_dry_run_says_so(responder, incident, local_host):
    run = request_run(responder, "maintenance_mode", ON, host=local_host, incident=incident, dry_run=True)
    assert _text(run, EventKind.RUN_REQUESTED) == f"Requested: Dry run of Maintenance mode on: “Down” {_where(run)}"


def test_approval_rejection_and_cancel_read_as_before(responder, manager, incident, local_host):
    ApprovalRule.objects.create(action="maintenance_mode", needs_approval=True)
    approved = request_run(responder, "maintenance_mode", OFF, host=local_host, incident=incident)
    rejected = request_run(responder, "maintenance_mode", OFF, host=local_host, incident=incident)
    cancelled = request_run(responder, "maintenance_mode", OFF, host=local_host, incident=incident)
    quietly = request_run(responder, "maintenance_mode", OFF, host=local_host, incident=incident)
    services.run_approve(run_id=approved.pk, user=manager)
    services.run_reject(run_id=rejected.pk, user=manager, note="Not during the sale")
    services.run_cancel(run_id=cancelled.pk, user=responder, note="Wrong host")
    services.run_cancel(run_id=quietly.pk, user=responder)

    what = f"Maintenance mode off {_where(approved)}"
    assert _text(approved, EventKind.RUN_REQUESTED) == f"Requested (awaiting approval): {what}"
    assert _text(approved, EventKind.RUN_APPROVED) == f"Approved: {what}"
    assert _text(rejected, EventKind.RUN_REJECTED) == (
        f"Rejected: Maintenance mode off {_where(rejected)} — Not during the sale"
    )
    assert (
        _text(cancelled, EventKind.RUN_CANCELLED) == f"Cancelled: Maintenance mode off {_where(cancelled)} — Wrong host"
    )
    assert _text(quietly, EventKind.RUN_CANCELLED) == f"Cancelled: Maintenance mode off {_where(quietly)}"
    assert TimelineEvent.objects.get(run=approved, kind=EventKind.RUN_APPROVED).actor == manager
    assert TimelineEvent.objects.get(run=rejected, kind=EventKind.RUN_REJECTED).data == {"note": "Not during the sale"}


def test_break_glass_is_loud(responder, incident, local_host):
    ApprovalRule.objects.create(action="maintenance_mode", needs_approval=True)
    run = request_run(
        responder, "maintenance_mode", ON, host=local_host, incident=incident, break_glass_reason="Manager unreachable"
    )
    assert _text(run, EventKind.BREAK_GLASS) == (
        f"BREAK GLASS — ran without approval: Maintenance mode on: “Down” {_where(run)}. Reason: Manager unreachable"
    )


def test_an_evidence_override_names_its_run_and_reason(responder, procedures, local_host):
    breach = declare_incident(responder, scenario=Scenario.SECURITY_BREACH, title="Unknown logins")
    run = request_run(
        responder,
        "restart_service",
        {"service": "nginx"},
        host=local_host,
        incident=breach,
        evidence_override_reason="Shop down for everyone",
    )
    assert (
        _text(run, EventKind.EVIDENCE_OVERRIDDEN)
        == f"Evidence-first overridden for run #{run.pk}: Shop down for everyone"
    )


def test_a_timed_change_its_keep_and_its_revert_read_as_before(responder, incident, local_host):
    kept = execute(request_run(responder, "maintenance_mode", ON, host=local_host, incident=incident, revert_minutes=5))
    assert _text(kept, EventKind.RUN_FINISHED).endswith("(reverts by itself in 5 min unless kept)")
    assert TimelineEvent.objects.get(run=kept, kind=EventKind.RUN_FINISHED).data["revert_minutes"] == 5
    services.run_keep(run_id=kept.pk, user=responder)
    assert _text(kept, EventKind.RUN_KEPT) == f"Kept (revert timer stopped): Maintenance mode on: “Down” {_where(kept)}"

    timed = execute(
        request_run(responder, "maintenance_mode", ON, host=local_host, incident=incident, revert_minutes=5)
    )
    ActionRun.objects.filter(pk=timed.pk).update(revert_due_at=timezone.now() - timedelta(seconds=1))
    assert services.runs_sweep().reverted == [timed.pk]
    revert = ActionRun.objects.get(undoes=timed)
    started = TimelineEvent.objects.get(kind=EventKind.REVERT_STARTED)
    assert (started.run, started.data, started.component) == (revert, {"reverts": timed.pk}, "sweeper")
    assert started.text == f"Revert timer ran out: Maintenance mode off {_where(revert)}"


def test_a_superseded_revert_timer_says_why_it_stopped(responder, incident, local_host):
    timed = execute(
        request_run(responder, "maintenance_mode", ON, host=local_host, incident=incident, revert_minutes=5)
    )
    execute(request_run(responder, "maintenance_mode", OFF, host=local_host))
    ActionRun.objects.filter(pk=timed.pk).update(revert_due_at=timezone.now() - timedelta(seconds=1))
    assert services.runs_sweep().reverted == []
    assert (
        _text(timed, EventKind.REVERT_SUPERSEDED)
        == f"Revert timer of run #{timed.pk} stopped: a later change replaced it."
    )


def test_a_lost_run_and_its_late_finish_read_as_before(responder, incident, local_host):
    run = request_run(responder, "maintenance_mode", OFF, host=local_host, incident=incident)
    services.run_claim(run_id=run.pk, worker="test")
    services.run_lost(run_id=run.pk)
    run.refresh_from_db()
    assert _text(run, EventKind.RUN_LOST) == f"Lost: Maintenance mode off {_where(run)} — {run.summary}"
    services.run_finish(run_id=run.pk, finish=services.Finish(State.FAILED, "came back"))
    assert _text(run, EventKind.RUN_FINISHED) == f"Run #{run.pk}, called lost, finished after all: failed — came back"


def test_events_carried_over_from_the_text_timeline_render_with_their_data_only(responder, incident):
    """The data migration gives older rows only the keys their words held."""
    host = Host.objects.create(name="web-1")
    run = ActionRun.objects.create(action="backup_database", host=host, params={"label": "nightly"}, incident=incident)
    shapes = [
        (EventKind.RUN_FINISHED, {"state": "failed", "summary": "pg_dump failed"}),
        (EventKind.RUN_CANCELLED, {"note": ""}),
        (EventKind.RUN_STARTED, {}),
    ]
    texts = [
        TimelineEvent.objects.create(incident=incident, kind=kind, component="system", run=run, data=data).text
        for kind, data in shapes
    ]
    what = f"Back up the database (label nightly) on web-1 (run #{run.pk})"
    assert texts == [f"Failed: {what} — pg_dump failed", f"Cancelled: {what}", f"Started: {what}"]


def test_a_run_event_links_to_its_run_and_the_timeline_reads_runs_in_its_one_query(
    responder_client, responder, incident, local_host
):
    runs = [request_run(responder, "maintenance_mode", OFF, host=local_host, incident=incident) for _ in range(3)]
    event = TimelineEvent.objects.get(run=runs[0], kind=EventKind.RUN_REQUESTED)
    assert event.links == [(f"run #{runs[0].pk}", reverse("remediation:run", args=[runs[0].pk]))]
    events = list(with_related(TimelineEvent.objects.filter(incident=incident)))
    with CaptureQueriesContext(connection) as queries:
        texts = [event.text for event in events]
    assert len(queries) == 0
    assert f"Requested: Maintenance mode off {_where(runs[2])}" in texts
    page = responder_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert f"Requested: Maintenance mode off {_where(runs[1])}" in page
    assert f'href="{reverse("remediation:run", args=[runs[1].pk])}"' in page
