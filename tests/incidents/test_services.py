"""The incident services: each state change, its rules, its conflicts and its timeline event
(kind, actor, references and values; the words are `test_renderers.py`'s business)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.incidents import services
from apps.incidents.models import ChecklistItem, Component, EventKind, Incident, NotificationEntry, TimelineEvent
from apps.incidents.services import FieldChange, IncidentConflict, IncidentRuleError
from apps.runbooks.models import Runbook
from apps.runbooks.procedures import INITIAL_RESPONSE, POST_EMERGENCY, SCENARIOS
from apps.runbooks.services import runbook_save
from tests.factories import declare_incident, make_run
from tests.incidents.conftest import event_ids, new_events, snapshot

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
Kind = EventKind
State = ChecklistItem.State
Status = Incident.Status


def _only_new_event(incident: Incident, before: list[int]) -> TimelineEvent:
    events = new_events(incident, before)
    assert len(events) == 1, [(e.kind, e.data) for e in events]
    return events[0]


def _walk(incident: Incident, user: User, *statuses: str) -> Incident:
    for target in statuses:
        incident = services.incident_change_status(
            incident_id=incident.pk, user=user, from_status=incident.status, to_status=target
        )
    return incident


# --- incident_declare ------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_declaring_copies_initial_response_scenario_and_post_emergency_steps_in_order(
    procedures: list[Runbook], responder: User, scenario: str
) -> None:
    incident = declare_incident(responder, scenario=scenario)

    items = list(incident.checklist.order_by("position"))
    expected = (
        [("initial_response", step) for step in INITIAL_RESPONSE.steps]
        + [("scenario", step) for step in SCENARIOS[scenario].steps]
        + [("post_emergency", step) for step in POST_EMERGENCY.steps]
    )
    assert len(INITIAL_RESPONSE.steps) == 4
    assert len(POST_EMERGENCY.steps) == 4
    assert [item.position for item in items] == list(range(1, len(expected) + 1))
    assert [(item.phase, item.title, item.guidance, item.action) for item in items] == [
        (phase, step.title, step.guidance, step.action) for phase, step in expected
    ]
    assert all(item.state == State.PENDING and item.completed_by is None for item in items)


def test_declaring_copies_the_actions_of_the_runbook_steps(procedures: list[Runbook], responder: User) -> None:
    incident = declare_incident(responder, scenario="database_failure")

    actions = dict(incident.checklist.exclude(action="").values_list("title", "action"))
    assert actions == {
        "Restart database service": "restart_service",
        "Check for corruption": "terminate_db_connections",
        "Restore from backup (if necessary)": "restore_database",
    }


def test_editing_the_runbook_afterwards_does_not_change_the_incident_checklist(
    procedures: list[Runbook], responder: User
) -> None:
    incident = declare_incident(responder, scenario="database_failure")
    before = list(incident.checklist.order_by("position").values_list("title", "guidance", "action"))
    runbook = Runbook.objects.get(scenario="database_failure")

    runbook_save(runbook=runbook, fields={"title": "DB down"}, steps=[{"title": "Call the DBA", "guidance": "Now"}])

    after = list(incident.checklist.order_by("position").values_list("title", "guidance", "action"))
    assert after == before
    assert "Call the DBA" not in [title for title, _, _ in after]
    later = declare_incident(responder, scenario="database_failure")
    assert later.checklist.filter(phase="scenario").get().title == "Call the DBA"


def test_the_declarer_commands_by_default(procedures: list[Runbook], responder: User) -> None:
    incident = declare_incident(responder)

    incident.refresh_from_db()
    assert incident.commander == responder
    assert incident.declared_by == responder
    assert incident.status == Status.INVESTIGATING


def test_a_named_commander_and_coordinator_are_kept(
    procedures: list[Runbook], responder: User, second_responder: User, comms: User
) -> None:
    incident = declare_incident(responder, commander=second_responder, coordinator=comms)

    incident.refresh_from_db()
    assert (incident.commander, incident.coordinator, incident.declared_by) == (second_responder, comms, responder)


def test_declaring_writes_one_declared_event(procedures: list[Runbook], responder: User) -> None:
    with time_machine.travel(NOW, tick=False):
        incident = declare_incident(responder, severity="sev1", scenario="security_breach", title="Leaked keys")

    event = incident.events.get()
    assert (event.kind, event.actor, event.component, event.at) == (Kind.DECLARED, responder, "", NOW)
    assert event.data == {"severity": "sev1", "scenario": "security_breach", "title": "Leaked keys", "via": ""}
    incident.refresh_from_db()
    assert incident.declared_at == incident.noticed_at == incident.status_changed_at == NOW


def test_an_incident_declared_by_an_alert_names_the_webhook_as_actor(procedures: list[Runbook]) -> None:
    incident = services.incident_declare(
        declared_by=None,
        declared_via="Alertmanager: DatabaseDown",
        title="db-1 down",
        scenario="database_failure",
        severity="sev1",
    )

    event = incident.events.get()
    assert (event.kind, event.actor, event.component) == (Kind.DECLARED, None, Component.WEBHOOK)
    assert event.data["via"] == "Alertmanager: DatabaseDown"
    assert incident.commander is None


def test_declaring_keeps_when_the_issue_was_first_noticed(procedures: list[Runbook], responder: User) -> None:
    noticed = NOW - timedelta(minutes=40)
    with time_machine.travel(NOW, tick=False):
        incident = declare_incident(responder, noticed_at=noticed, impact="Nobody can log in")

    incident.refresh_from_db()
    assert incident.noticed_at == noticed
    assert incident.declared_at == NOW
    assert incident.impact == "Nobody can log in"


# --- incident_change_status ------------------------------------------------------------------


def test_changing_status_writes_a_status_entry(incident: Incident, second_responder: User) -> None:
    before = event_ids(incident)
    with time_machine.travel(NOW, tick=False):
        services.incident_change_status(
            incident_id=incident.pk, user=second_responder, from_status="investigating", to_status="mitigating"
        )

    incident.refresh_from_db()
    assert incident.status == Status.MITIGATING
    assert incident.status_changed_at == NOW
    event = _only_new_event(incident, before)
    assert (event.kind, event.actor, event.at) == (Kind.STATUS_CHANGED, second_responder, NOW)
    assert event.data == {"from": "investigating", "to": "mitigating"}


def test_resolving_sets_resolved_at_and_closing_sets_closed_at(incident: Incident, responder: User) -> None:
    with time_machine.travel(NOW, tick=False):
        _walk(incident, responder, "identified", "mitigating", "monitoring", "resolved")
    incident.refresh_from_db()
    assert incident.resolved_at == NOW
    assert incident.closed_at is None

    later = NOW + timedelta(days=2)
    with time_machine.travel(later, tick=False):
        _walk(incident, responder, "closed")
    incident.refresh_from_db()
    assert incident.status == Status.CLOSED
    assert incident.resolved_at == NOW
    assert incident.closed_at == later
    moves = list(incident.events.filter(kind=Kind.STATUS_CHANGED).order_by("pk").values_list("data", flat=True))
    assert moves == [
        {"from": "investigating", "to": "identified"},
        {"from": "identified", "to": "mitigating"},
        {"from": "mitigating", "to": "monitoring"},
        {"from": "monitoring", "to": "resolved"},
        {"from": "resolved", "to": "closed"},
    ]


def test_reopening_clears_resolved_at(incident: Incident, responder: User) -> None:
    incident = _walk(incident, responder, "resolved")
    before = event_ids(incident)

    _walk(incident, responder, "investigating")

    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert incident.resolved_at is None
    event = _only_new_event(incident, before)
    assert (event.kind, event.data) == (Kind.STATUS_CHANGED, {"from": "resolved", "to": "investigating"})


def test_a_stale_from_status_is_a_conflict_and_writes_nothing(
    incident: Incident, responder: User, second_responder: User
) -> None:
    _walk(incident, responder, "identified")
    before = snapshot()

    with pytest.raises(IncidentConflict, match="changed to identified while you were looking"):
        services.incident_change_status(
            incident_id=incident.pk, user=second_responder, from_status="investigating", to_status="mitigating"
        )

    assert snapshot() == before


@pytest.mark.parametrize(
    ("path", "target", "message"),
    [
        ([], "closed", "Resolve the incident before closing it."),
        ([], "investigating", "The incident is already investigating."),
        (["resolved"], "monitoring", "An incident cannot move from resolved to monitoring."),
        (["resolved", "closed"], "investigating", "A closed incident cannot change status."),
        ([], "on_fire", "“on_fire” is not an incident status."),
    ],
)
def test_an_illegal_move_is_a_rule_error_and_writes_nothing(
    incident: Incident, responder: User, path: list[str], target: str, message: str
) -> None:
    incident = _walk(incident, responder, *path)
    before = snapshot()

    with pytest.raises(IncidentRuleError) as excinfo:
        services.incident_change_status(
            incident_id=incident.pk, user=responder, from_status=incident.status, to_status=target
        )

    assert str(excinfo.value) == message
    assert snapshot() == before


# --- incident_update -------------------------------------------------------------------------


def _form_changes(incident: Incident, **new: object) -> list[FieldChange]:
    """What the details form sends: every field, with the value the user saw."""
    return [
        FieldChange(name, getattr(incident, name), new.get(name, getattr(incident, name)))
        for name in services.EDITABLE_FIELDS
    ]


def test_two_users_editing_different_fields_both_succeed(
    incident: Incident, responder: User, second_responder: User
) -> None:
    seen_by_both = Incident.objects.get(pk=incident.pk)
    first = _form_changes(seen_by_both, title="Primary DB refuses connections")
    second = _form_changes(seen_by_both, impact="Checkout is down")

    assert services.incident_update(incident_id=incident.pk, user=responder, changes=first) == ["title"]
    assert services.incident_update(incident_id=incident.pk, user=second_responder, changes=second) == ["impact"]

    incident.refresh_from_db()
    assert incident.title == "Primary DB refuses connections"
    assert incident.impact == "Checkout is down"
    details = list(incident.events.filter(kind=Kind.DETAILS_CHANGED).order_by("pk"))
    assert [(e.actor, e.data) for e in details] == [
        (responder, {"field": "title", "value": "Primary DB refuses connections"}),
        (second_responder, {"field": "impact", "value": "Checkout is down"}),
    ]


def test_editing_the_same_field_is_a_conflict_naming_it_and_saves_nothing(
    incident: Incident, responder: User, second_responder: User
) -> None:
    seen_by_both = Incident.objects.get(pk=incident.pk)
    services.incident_update(
        incident_id=incident.pk, user=responder, changes=_form_changes(seen_by_both, title="Replica lag")
    )
    before = snapshot()

    with pytest.raises(IncidentConflict, match=r"Someone else changed title while you were editing\. Nothing"):
        services.incident_update(
            incident_id=incident.pk,
            user=second_responder,
            changes=_form_changes(seen_by_both, title="Disk full", impact="Writes fail"),
        )

    assert snapshot() == before
    incident.refresh_from_db()
    assert (incident.title, incident.impact) == ("Replica lag", "")


def test_a_conflict_names_every_clashing_field(incident: Incident, responder: User, second_responder: User) -> None:
    seen = Incident.objects.get(pk=incident.pk)
    services.incident_update(
        incident_id=incident.pk, user=responder, changes=_form_changes(seen, severity="sev1", channel_url="https://a")
    )

    with pytest.raises(IncidentConflict, match="changed severity, communication channel while"):
        services.incident_update(
            incident_id=incident.pk,
            user=second_responder,
            changes=_form_changes(seen, severity="sev3", channel_url="https://b"),
        )


def test_setting_the_value_someone_else_already_set_is_not_a_conflict(
    incident: Incident, responder: User, second_responder: User
) -> None:
    seen = Incident.objects.get(pk=incident.pk)
    services.incident_update(incident_id=incident.pk, user=responder, changes=_form_changes(seen, severity="sev1"))
    before = snapshot()

    changed = services.incident_update(
        incident_id=incident.pk, user=second_responder, changes=_form_changes(seen, severity="sev1")
    )

    assert changed == []
    assert snapshot() == before


@pytest.mark.parametrize(
    ("field", "kind", "data"),
    [
        ("severity", Kind.SEVERITY_CHANGED, {"from": "sev2", "to": "sev1"}),
        ("commander", Kind.ROLE_ASSIGNED, {"role": "commander", "user": "<sam>", "name": "Sam Second"}),
        ("coordinator", Kind.ROLE_ASSIGNED, {"role": "coordinator", "user": "<sam>", "name": "Sam Second"}),
        ("title", Kind.DETAILS_CHANGED, {"field": "title", "value": "Replica lag"}),
        ("affected_components", Kind.DETAILS_CHANGED, {"field": "affected_components", "value": "db-1, db-2"}),
        ("impact", Kind.DETAILS_CHANGED, {"field": "impact", "value": "Checkout is down"}),
        ("channel_url", Kind.DETAILS_CHANGED, {"field": "channel_url", "value": "https://chat.example.com/inc"}),
        ("noticed_at", Kind.DETAILS_CHANGED, {"field": "noticed_at", "value": "2025-03-04T09:15:00+00:00"}),
    ],
)
def test_each_field_change_writes_one_event_of_its_kind(
    incident: Incident, responder: User, second_responder: User, field: str, kind: str, data: dict[str, object]
) -> None:
    new = {
        "severity": "sev1",
        "commander": second_responder,
        "coordinator": second_responder,
        "title": "Replica lag",
        "affected_components": "db-1, db-2",
        "impact": "Checkout is down",
        "channel_url": "https://chat.example.com/inc",
        "noticed_at": datetime(2025, 3, 4, 9, 15, tzinfo=UTC),
    }[field]
    before = event_ids(incident)

    with time_machine.travel(NOW, tick=False):
        changed = services.incident_update(
            incident_id=incident.pk, user=responder, changes=[FieldChange(field, getattr(incident, field), new)]
        )

    assert changed == [field]
    incident.refresh_from_db()
    assert getattr(incident, field) == new
    event = _only_new_event(incident, before)
    expected = {key: second_responder.pk if value == "<sam>" else value for key, value in data.items()}
    assert (event.kind, event.actor, event.at, event.data) == (kind, responder, NOW, expected)


def test_removing_the_commander_is_a_role_event_naming_nobody(incident: Incident, responder: User) -> None:
    before = event_ids(incident)

    services.incident_update(
        incident_id=incident.pk, user=responder, changes=[FieldChange("commander", responder, None)]
    )

    incident.refresh_from_db()
    assert incident.commander is None
    event = _only_new_event(incident, before)
    assert (event.kind, event.data) == (Kind.ROLE_ASSIGNED, {"role": "commander", "user": None, "name": ""})


def test_several_fields_changed_at_once_write_one_event_each(
    incident: Incident, responder: User, second_responder: User
) -> None:
    before = event_ids(incident)
    seen = Incident.objects.get(pk=incident.pk)

    services.incident_update(
        incident_id=incident.pk,
        user=responder,
        changes=_form_changes(seen, title="Replica lag", severity="sev1", coordinator=second_responder),
    )

    events = new_events(incident, before)
    assert sorted((e.kind, e.actor_id) for e in events) == sorted(
        [
            (Kind.DETAILS_CHANGED, responder.pk),
            (Kind.SEVERITY_CHANGED, responder.pk),
            (Kind.ROLE_ASSIGNED, responder.pk),
        ]
    )


def test_a_closed_incident_refuses_edits(incident: Incident, responder: User) -> None:
    _walk(incident, responder, "resolved", "closed")
    before = snapshot()

    with pytest.raises(IncidentRuleError, match=re.escape("A closed incident cannot be changed.")):
        services.incident_update(
            incident_id=incident.pk, user=responder, changes=[FieldChange("title", incident.title, "Reworded")]
        )

    assert snapshot() == before


def test_a_field_outside_the_editable_ones_is_refused(incident: Incident, responder: User) -> None:
    before = snapshot()

    with pytest.raises(ValueError, match="not editable: status"):
        services.incident_update(
            incident_id=incident.pk, user=responder, changes=[FieldChange("status", "investigating", "closed")]
        )

    assert snapshot() == before


# --- checklist_item_set_state ----------------------------------------------------------------


def _first_item(incident: Incident) -> ChecklistItem:
    return incident.checklist.order_by("position").first()  # type: ignore[return-value]


def test_ticking_a_step_records_who_and_when(incident: Incident, second_responder: User) -> None:
    item = _first_item(incident)
    before = event_ids(incident)

    with time_machine.travel(NOW, tick=False):
        services.checklist_item_set_state(
            incident_id=incident.pk, item_id=item.pk, user=second_responder, state="done", from_state="pending"
        )

    item.refresh_from_db()
    assert (item.state, item.completed_by, item.completed_at, item.skip_reason) == (
        State.DONE,
        second_responder,
        NOW,
        "",
    )
    event = _only_new_event(incident, before)
    assert (event.kind, event.actor, event.at, event.item) == (Kind.STEP_DONE, second_responder, NOW, item)
    assert event.data == {"title": "Assess the situation"}
    assert event.run is None


def test_skipping_a_step_records_the_reason(incident: Incident, responder: User) -> None:
    item = _first_item(incident)
    before = event_ids(incident)

    with time_machine.travel(NOW, tick=False):
        services.checklist_item_set_state(
            incident_id=incident.pk,
            item_id=item.pk,
            user=responder,
            state="skipped",
            from_state="pending",
            reason="  Already assessed on the call  ",
        )

    item.refresh_from_db()
    assert (item.state, item.completed_by, item.completed_at, item.skip_reason) == (
        State.SKIPPED,
        responder,
        NOW,
        "Already assessed on the call",
    )
    event = _only_new_event(incident, before)
    assert (event.kind, event.actor, event.at, event.item) == (Kind.STEP_SKIPPED, responder, NOW, item)
    assert event.data == {"title": "Assess the situation", "reason": "Already assessed on the call"}


@pytest.mark.parametrize("reason", ["", "   \n "])
def test_skipping_without_a_reason_is_refused(incident: Incident, responder: User, reason: str) -> None:
    item = _first_item(incident)
    before = snapshot()

    with pytest.raises(IncidentRuleError, match=re.escape("Say why the step is skipped.")):
        services.checklist_item_set_state(
            incident_id=incident.pk,
            item_id=item.pk,
            user=responder,
            state="skipped",
            from_state="pending",
            reason=reason,
        )

    assert snapshot() == before


@pytest.mark.parametrize("done_state", ["done", "skipped"])
def test_reopening_a_step_clears_it_and_records_who_and_when(
    incident: Incident, responder: User, second_responder: User, done_state: str
) -> None:
    item = _first_item(incident)
    services.checklist_item_set_state(
        incident_id=incident.pk, item_id=item.pk, user=responder, state=done_state, from_state="pending", reason="n/a"
    )
    before = event_ids(incident)

    with time_machine.travel(NOW, tick=False):
        services.checklist_item_set_state(
            incident_id=incident.pk, item_id=item.pk, user=second_responder, state="pending", from_state=done_state
        )

    item.refresh_from_db()
    assert (item.state, item.completed_by, item.completed_at, item.skip_reason) == (State.PENDING, None, None, "")
    event = _only_new_event(incident, before)
    assert (event.kind, event.actor, event.at, event.item) == (Kind.STEP_REOPENED, second_responder, NOW, item)
    assert event.data == {"title": "Assess the situation"}


@pytest.mark.parametrize(("done_state", "other"), [("done", "skipped"), ("skipped", "done")])
def test_a_finished_step_is_reopened_before_it_changes_again(
    incident: Incident, responder: User, done_state: str, other: str
) -> None:
    """The checklist's transition table: done and skipped go back to pending, not to each other."""
    item = _first_item(incident)
    services.checklist_item_set_state(
        incident_id=incident.pk, item_id=item.pk, user=responder, state=done_state, from_state="pending", reason="n/a"
    )
    before = snapshot()

    with pytest.raises(IncidentRuleError, match=f"cannot become {other}"):
        services.checklist_item_set_state(
            incident_id=incident.pk, item_id=item.pk, user=responder, state=other, from_state=done_state, reason="n/a"
        )

    assert snapshot() == before


def test_a_verifying_run_ticks_its_step_with_the_run_as_reference(incident: Incident, responder: User) -> None:
    item = incident.checklist.get(title="Restart database service")
    run = make_run(incident, responder, item=item)
    before = event_ids(incident)

    with time_machine.travel(NOW, tick=False):
        ticked = services.checklist_item_complete_by_run(
            incident_id=incident.pk, item_id=item.pk, user=responder, run_id=run.pk
        )

    assert ticked is True
    item.refresh_from_db()
    assert (item.state, item.completed_by, item.completed_at) == (State.DONE, responder, NOW)
    event = _only_new_event(incident, before)
    assert (event.kind, event.actor, event.item, event.run) == (Kind.STEP_DONE, responder, item, run)
    assert event.data == {"title": "Restart database service", "verified": True}


def test_a_verifying_run_without_a_requester_is_the_worker(incident: Incident, responder: User) -> None:
    item = incident.checklist.get(title="Restart database service")
    run = make_run(incident, responder, item=item)
    before = event_ids(incident)

    services.checklist_item_complete_by_run(incident_id=incident.pk, item_id=item.pk, user=None, run_id=run.pk)

    event = _only_new_event(incident, before)
    assert (event.kind, event.actor, event.component, event.run) == (Kind.STEP_DONE, None, Component.WORKER, run)


def test_a_verifying_run_leaves_a_step_already_finished_alone(incident: Incident, responder: User) -> None:
    item = incident.checklist.get(title="Restart database service")
    services.checklist_item_set_state(
        incident_id=incident.pk, item_id=item.pk, user=responder, state="skipped", from_state="pending", reason="no"
    )
    run = make_run(incident, responder, item=item)
    before = snapshot()

    ticked = services.checklist_item_complete_by_run(
        incident_id=incident.pk, item_id=item.pk, user=responder, run_id=run.pk
    )

    assert ticked is False
    assert snapshot() == before


def test_ticking_a_step_someone_already_ticked_is_a_conflict_naming_them(
    incident: Incident, responder: User, second_responder: User
) -> None:
    item = _first_item(incident)
    services.checklist_item_set_state(
        incident_id=incident.pk, item_id=item.pk, user=responder, state="done", from_state="pending"
    )
    before = snapshot()

    with pytest.raises(IncidentConflict) as excinfo:
        services.checklist_item_set_state(
            incident_id=incident.pk, item_id=item.pk, user=second_responder, state="done", from_state="pending"
        )

    assert str(excinfo.value) == "“Assess the situation” was already marked done by Riley Responder."
    assert snapshot() == before
    item.refresh_from_db()
    assert item.completed_by == responder


def test_a_closed_incident_checklist_cannot_change(incident: Incident, responder: User) -> None:
    item = _first_item(incident)
    _walk(incident, responder, "resolved", "closed")
    before = snapshot()

    with pytest.raises(IncidentRuleError, match=re.escape("A closed incident's checklist cannot change.")):
        services.checklist_item_set_state(
            incident_id=incident.pk, item_id=item.pk, user=responder, state="done", from_state="pending"
        )

    assert snapshot() == before


def test_a_step_of_another_incident_cannot_be_ticked(
    incident: Incident, other_incident: Incident, responder: User
) -> None:
    foreign = _first_item(other_incident)
    before = snapshot()

    with pytest.raises(ChecklistItem.DoesNotExist):
        services.checklist_item_set_state(
            incident_id=incident.pk, item_id=foreign.pk, user=responder, state="done", from_state="pending"
        )

    assert snapshot() == before


# --- notification_record / notification_acknowledge --------------------------------------------


def test_a_notification_is_due_within_the_contact_escalation_timeout(
    incident: Incident, responder: User, project_manager_contact: Contact
) -> None:
    before = event_ids(incident)

    with time_machine.travel(NOW, tick=False):
        entry = services.notification_record(
            incident_id=incident.pk, user=responder, method="phone", contact=project_manager_contact
        )

    entry.refresh_from_db()
    assert entry.recipient == "Pat Planner (Project Manager)"
    assert entry.contact == project_manager_contact
    assert entry.notified_at == NOW
    assert entry.ack_due_at == NOW + timedelta(minutes=30)
    assert entry.recorded_by == responder
    assert entry.acknowledged_at is None
    event = _only_new_event(incident, before)
    assert (event.kind, event.actor, event.at, event.notification) == (
        Kind.NOTIFICATION_RECORDED,
        responder,
        NOW,
        entry,
    )
    assert event.data == {"recipient": "Pat Planner (Project Manager)", "method": "phone", "note": ""}


def test_the_ack_deadline_counts_from_when_they_were_notified(
    incident: Incident, responder: User, project_manager_contact: Contact
) -> None:
    notified = NOW - timedelta(minutes=10)
    with time_machine.travel(NOW, tick=False):
        entry = services.notification_record(
            incident_id=incident.pk,
            user=responder,
            method="sms",
            contact=project_manager_contact,
            notified_at=notified,
            note="Left a voicemail too",
        )

    assert entry.ack_due_at == notified + timedelta(minutes=30)
    event = incident.events.get(kind=Kind.NOTIFICATION_RECORDED)
    assert (event.notification, event.data["method"], event.data["note"]) == (entry, "sms", "Left a voicemail too")


def test_an_automatic_page_leaves_its_event_to_the_caller(incident: Incident, project_manager_contact: Contact) -> None:
    """Incident Center's own pages (`user` None) are worded by the paging event instead."""
    before = event_ids(incident)

    entry = services.notification_record(
        incident_id=incident.pk, user=None, method="sms", contact=project_manager_contact, record_event=False
    )

    assert entry.recorded_by is None
    assert new_events(incident, before) == []


def test_a_contact_off_the_escalation_path_gets_the_default_timeout(
    incident: Incident, responder: User, off_path_contact: Contact
) -> None:
    with time_machine.travel(NOW, tick=False):
        entry = services.notification_record(
            incident_id=incident.pk, user=responder, method="email", contact=off_path_contact
        )

    assert entry.ack_due_at == NOW + timedelta(minutes=services.DEFAULT_ACK_TIMEOUT_MINUTES)


def test_a_written_recipient_is_kept_and_gets_the_default_timeout(incident: Incident, responder: User) -> None:
    with time_machine.travel(NOW, tick=False):
        entry = services.notification_record(
            incident_id=incident.pk, user=responder, method="in_person", recipient="  Jo from the hosting desk  "
        )

    entry.refresh_from_db()
    assert entry.recipient == "Jo from the hosting desk"
    assert entry.contact is None
    assert entry.ack_due_at == NOW + timedelta(minutes=15)


@pytest.mark.parametrize("recipient", ["", "   "])
def test_a_notification_needs_a_contact_or_a_recipient(incident: Incident, responder: User, recipient: str) -> None:
    before = snapshot()

    with pytest.raises(IncidentRuleError, match=re.escape("Choose a contact or write who was notified.")):
        services.notification_record(incident_id=incident.pk, user=responder, method="phone", recipient=recipient)

    assert snapshot() == before


def test_acknowledging_records_who_and_when(
    incident: Incident, responder: User, second_responder: User, project_manager_contact: Contact
) -> None:
    entry = services.notification_record(
        incident_id=incident.pk, user=responder, method="phone", contact=project_manager_contact
    )
    before = event_ids(incident)

    with time_machine.travel(NOW, tick=False):
        services.notification_acknowledge(incident_id=incident.pk, entry_id=entry.pk, user=second_responder)

    entry.refresh_from_db()
    assert (entry.acknowledged_at, entry.acknowledged_recorded_by) == (NOW, second_responder)
    event = _only_new_event(incident, before)
    assert (event.kind, event.actor, event.at, event.notification) == (
        Kind.NOTIFICATION_ACKNOWLEDGED,
        second_responder,
        NOW,
        entry,
    )
    assert event.data == {"recipient": "Pat Planner (Project Manager)"}


def test_acknowledging_twice_is_a_conflict(
    incident: Incident, responder: User, second_responder: User, project_manager_contact: Contact
) -> None:
    entry = services.notification_record(
        incident_id=incident.pk, user=responder, method="phone", contact=project_manager_contact
    )
    with time_machine.travel(NOW, tick=False):
        services.notification_acknowledge(incident_id=incident.pk, entry_id=entry.pk, user=responder)
    before = snapshot()

    with pytest.raises(IncidentConflict, match=r"Pat Planner \(Project Manager\) was already recorded as acknowledged"):
        services.notification_acknowledge(incident_id=incident.pk, entry_id=entry.pk, user=second_responder)

    assert snapshot() == before
    entry.refresh_from_db()
    assert (entry.acknowledged_at, entry.acknowledged_recorded_by) == (NOW, responder)


def test_a_notification_of_another_incident_cannot_be_acknowledged(
    incident: Incident, other_incident: Incident, responder: User
) -> None:
    foreign = services.notification_record(
        incident_id=other_incident.pk, user=responder, method="chat", recipient="Sam"
    )
    before = snapshot()

    with pytest.raises(NotificationEntry.DoesNotExist):
        services.notification_acknowledge(incident_id=incident.pk, entry_id=foreign.pk, user=responder)

    assert snapshot() == before


# --- note_add --------------------------------------------------------------------------------


def test_a_note_is_an_event_keeping_its_markdown_trimmed(incident: Incident, comms: User) -> None:
    before = event_ids(incident)

    with time_machine.travel(NOW, tick=False):
        returned = services.note_add(
            incident_id=incident.pk, user=comms, body="  Status page updated\n\nSee **#inc-42**  "
        )

    event = _only_new_event(incident, before)
    assert event == returned
    assert (event.kind, event.actor, event.at, event.data) == (Kind.NOTE_ADDED, comms, NOW, {})
    assert event.body == "Status page updated\n\nSee **#inc-42**"


@pytest.mark.parametrize("body", ["", "  \n\t "])
def test_an_empty_note_is_refused(incident: Incident, responder: User, body: str) -> None:
    before = snapshot()

    with pytest.raises(IncidentRuleError, match=re.escape("A note cannot be empty.")):
        services.note_add(incident_id=incident.pk, user=responder, body=body)

    assert snapshot() == before


# --- the timeline is append-only ---------------------------------------------------------------


def test_saving_an_existing_event_is_refused(incident: Incident) -> None:
    event = incident.events.get()
    event.data = {**event.data, "title": "Rewritten history"}

    with pytest.raises(PermissionError, match="append-only"):
        event.save()

    assert TimelineEvent.objects.get(pk=event.pk).data["title"] == "Primary database down"


def test_deleting_an_event_is_refused(incident: Incident) -> None:
    event = incident.events.get()

    with pytest.raises(PermissionError, match="append-only"):
        event.delete()

    assert TimelineEvent.objects.filter(pk=event.pk).exists()


def test_bulk_update_and_delete_of_the_timeline_are_refused(incident: Incident) -> None:
    with pytest.raises(PermissionError, match="append-only"):
        TimelineEvent.objects.filter(incident=incident).update(kind=Kind.NOTE_ADDED)
    with pytest.raises(PermissionError, match="append-only"):
        TimelineEvent.objects.all().delete()
    with pytest.raises(PermissionError, match="append-only"):
        incident.events.all().delete()

    assert incident.events.get().kind == Kind.DECLARED


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE incidents_timelineevent SET kind = 'note_added' WHERE incident_id = %s",
        "UPDATE incidents_timelineevent SET data = '{}'::jsonb, actor_id = NULL WHERE incident_id = %s",
        "DELETE FROM incidents_timelineevent WHERE incident_id = %s",
    ],
)
def test_the_database_refuses_raw_updates_and_deletes_of_the_timeline(incident: Incident, sql: str) -> None:
    with (
        pytest.raises(DatabaseError, match="Cannot update or delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [incident.pk])

    event = incident.events.get()
    assert (event.kind, event.data["title"]) == (Kind.DECLARED, "Primary database down")


@pytest.mark.postgres
def test_the_database_still_accepts_new_timeline_rows(incident: Incident, responder: User) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO incidents_timelineevent (incident_id, kind, actor_id, component, at, data, body, legacy_text) "
            "VALUES (%s, 'note_added', %s, '', %s, '{}', 'Inserted', '')",
            [incident.pk, responder.pk, timezone.now()],
        )

    assert incident.events.count() == 2
    assert incident.events.get(kind=Kind.NOTE_ADDED).body == "Inserted"
