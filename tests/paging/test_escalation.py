"""Escalation through the real scheduling code with time under control: the worker's part (run
the active step when its countdown ends) is played by calling the task at that time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.contacts.models import EscalationLevel
from apps.incidents import services as incident_services
from apps.incidents.models import Component, EventKind, Incident, NotificationEntry, TimelineEvent
from apps.incidents.selectors import board
from apps.paging.models import Escalation, EscalationStep, Page
from apps.paging.services import responses
from apps.paging.services.errors import AlreadyAcknowledged
from apps.paging.tasks import run_escalation_step
from tests.paging.conftest import People, escalation_of, events, fire, kinds
from tests.paging.servers import SmtpServer, ack_link, text_of

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)


def test_sev1_database_failure_pages_the_dba_escalates_to_the_tech_lead_and_stops_when_acknowledged(
    time_machine: Any, declare: Callable[..., Incident], responder: User, people: People, smtp: SmtpServer, http: Any
) -> None:
    time_machine.move_to(T0, tick=False)
    incident = declare(responder, scenario="database_failure", severity="sev1", title="Primary database down")

    assert fire(incident) == "ran"

    mail = smtp.wait_to("dana@example.com")[0]
    assert mail["Subject"] == f"[SEV1] {incident.reference} Database Failure: Primary database down"
    body = text_of(mail)
    assert "How bad: Critical" in body
    assert "Since: 2026-03-04 03:00 UTC" in body
    assert "Runbook: Database Failure — http://incidents.test/runbooks/scenario/database_failure/" in body
    assert f"Incident: http://incidents.test/incidents/{incident.pk}/" in body
    assert "the Technical Lead is paged next" in body
    # SEV1 widens the first page to the level above the first contact.
    assert smtp.to("sam@example.com")
    assert not smtp.to("terry@example.com")

    time_machine.shift(timedelta(minutes=14, seconds=50))
    assert fire(incident) == "early"
    assert not http.to("/ok/sms")

    time_machine.shift(timedelta(seconds=10))
    assert fire(incident) == "ran"
    sms = http.wait_to("/ok/sms")[0]
    assert sms.headers["Authorization"] == "Bearer test-gateway-token"
    assert sms.json()["to"] == "+442079460003"
    assert sms.json()["text"].startswith(f"SEV1 {incident.reference} Database Failure")

    time_machine.shift(timedelta(minutes=2))
    response = Client().post(ack_link(body).removeprefix("http://incidents.test"))
    assert response.status_code == 200
    assert "Thank you, Dana Dba" in response.content.decode()

    escalation = escalation_of(incident)
    assert escalation.state == Escalation.State.ACKNOWLEDGED
    assert escalation.acknowledged_by_contact == people.dba
    assert escalation.active_step is None
    # The step that was scheduled for the project manager does nothing now.
    skipped = escalation.steps.order_by("number").last()
    assert skipped is not None
    assert skipped.state == EscalationStep.State.SKIPPED
    time_machine.shift(timedelta(minutes=30))
    assert run_escalation_step(skipped.pk) == "stale"
    assert not http.to("/ok/pat")

    (started,) = events(incident, EventKind.PAGING_STARTED)
    first_step = escalation.steps.get(number=1)
    assert started.step == first_step
    assert started.actor is None
    assert started.component == Component.ESCALATION
    assert started.data["first_level"] == 1
    assert started.data["last_level"] == 2
    assert started.data["wide"] is True
    assert started.data["severity"] == "sev1"
    assert started.data["route"][1] == "Database Administrator"
    dana_page = Page.objects.get(incident=incident, contact=people.dba)
    sent = events(incident, EventKind.PAGE_SENT)
    assert any(e.page == dana_page and e.data["address"] == "dana@example.com" for e in sent)
    assert all(e.notification is not None and e.component == Component.ESCALATION for e in sent)
    timeout_step = escalation.steps.get(number=2)
    assert TimelineEvent.objects.filter(
        incident=incident,
        kind=EventKind.ESCALATION_STEP,
        step=timeout_step,
        data__kind="timeout",
        data__levels=[{"level": 3, "name": "Technical Lead"}],
        data__names=["Terry Lead"],
    ).exists()
    assert any(e.page.contact == people.lead and e.data["channel"] == "sms" for e in sent if e.page)
    last = events(incident)[-1]
    assert last.kind == EventKind.ACKNOWLEDGED
    assert last.page == dana_page
    assert last.data == {"name": "Dana Dba", "via": "acknowledgement link"}
    # The words are today's.
    texts = [e.text for e in events(incident)]
    assert any(t.startswith("Paging started: first page to level 2. Database Administrator (SEV1") for t in texts)
    assert any(t.startswith("Paged Dana Dba (Database Administrator) by email to dana@example.com") for t in texts)
    assert any(t.startswith("Escalation after the timeout: paging level 3. Technical Lead") for t in texts)
    assert any(t.startswith("Paged Terry Lead (Technical Lead) by sms to +44 20 7946 0003") for t in texts)
    assert texts[-1] == "Dana Dba acknowledged the page (acknowledgement link): escalation stopped."
    log = NotificationEntry.objects.filter(incident=incident)
    assert log.count() == 3
    assert all(entry.recorded_by is None and entry.acknowledged_at is not None for entry in log)


def test_a_lower_severity_pages_only_the_scenarios_first_contact(
    declare: Callable[..., Incident], responder: User, people: People, smtp: SmtpServer
) -> None:
    incident = declare(responder, scenario="database_failure", severity="sev2")
    fire(incident)
    assert smtp.wait_to("dana@example.com")
    assert not smtp.to("sam@example.com")
    assert escalation_of(incident).current_level == 2


def test_a_security_breach_pages_the_system_administrator_first(
    declare: Callable[..., Incident], responder: User, people: People, smtp: SmtpServer
) -> None:
    incident = declare(responder, scenario="security_breach", severity="sev2", title="Odd logins")
    fire(incident)
    assert smtp.wait_to("sam@example.com")
    assert not smtp.to("dana@example.com")


def test_editing_the_path_does_not_change_a_running_escalation(
    time_machine: Any, declare: Callable[..., Incident], responder: User, people: People, http: Any
) -> None:
    time_machine.move_to(T0, tick=False)
    incident = declare(responder, scenario="database_failure", severity="sev2")
    fire(incident)
    EscalationLevel.objects.filter(role__name="Technical Lead").delete()
    EscalationLevel.objects.update(ack_timeout_minutes=60)

    time_machine.shift(timedelta(minutes=15))
    assert fire(incident) == "ran"
    assert http.wait_to("/ok/sms"), "the copied path still pages the technical lead after 15 minutes"
    assert [level.role_name for level in escalation_of(incident).levels.all()][2] == "Technical Lead"


def test_after_the_last_level_the_path_repeats_then_the_board_shows_it_unacknowledged(
    time_machine: Any, declare: Callable[..., Incident], responder: User, people: People, smtp: SmtpServer
) -> None:
    time_machine.move_to(T0, tick=False)
    incident = declare(responder, scenario="database_failure", severity="sev2")
    levels_paged = []
    for _ in range(20):
        if fire(incident) != "ran":
            break
        escalation = escalation_of(incident)
        if escalation.state != Escalation.State.ACTIVE:
            break
        levels_paged.append(escalation.current_level)
        time_machine.move_to(escalation.next_step_due_at, tick=False)
    # DBA → lead → PM → provider, then once more from the first contact (PAGING_REPEATS=1).
    assert levels_paged == [2, 3, 4, 5, 2, 3, 4, 5]
    escalation = escalation_of(incident)
    assert escalation.state == Escalation.State.EXHAUSTED
    assert len(smtp.to("dana@example.com")) == 2
    row = next(r for r in board().active if r.incident.pk == incident.pk)
    assert any(reason.startswith("UNACKNOWLEDGED") for reason in row.overdue)
    (exhausted,) = events(incident, EventKind.PAGING_EXHAUSTED)
    assert exhausted.data == {"rounds": 2}
    again = [e for e in events(incident, EventKind.ESCALATION_STEP) if e.data["again"]]
    assert [(e.data["kind"], e.data["round"]) for e in again] == [("repeat", 2)]


def test_the_same_step_delivered_twice_pages_once(
    declare: Callable[..., Incident], responder: User, people: People, smtp: SmtpServer
) -> None:
    incident = declare(responder, scenario="database_failure", severity="sev2")
    step_id = escalation_of(incident).active_step_id
    assert step_id is not None
    assert run_escalation_step(step_id) == "ran"
    assert run_escalation_step(step_id) == "stale"
    assert len(smtp.wait_to("dana@example.com")) == 1
    assert Page.objects.filter(incident=incident).count() == 1


def test_a_level_without_contacts_is_passed_over_at_once(
    time_machine: Any, declare: Callable[..., Incident], responder: User, people: People, smtp: SmtpServer, http: Any
) -> None:
    time_machine.move_to(T0, tick=False)
    people.lead.delete()
    incident = declare(responder, scenario="database_failure", severity="sev2")
    fire(incident)
    time_machine.shift(timedelta(minutes=15))
    fire(incident)
    assert http.wait_to("/ok/pat"), "the project manager is paged as soon as the lead's level is found empty"
    assert escalation_of(incident).current_level == 4
    (nobody,) = events(incident, EventKind.NOBODY_TO_PAGE)
    assert nobody.data["levels"] == [{"level": 3, "name": "Technical Lead"}]
    assert nobody.step == escalation_of(incident).steps.get(number=2)
    assert nobody.text == "Nobody to page at level 3. Technical Lead: moving on."


def test_a_resolved_incident_stops_paging(
    time_machine: Any, declare: Callable[..., Incident], responder: User, people: People, http: Any
) -> None:
    time_machine.move_to(T0, tick=False)
    incident = declare(responder, scenario="database_failure", severity="sev2")
    fire(incident)
    for target in ("identified", "mitigating", "monitoring", "resolved"):
        current = Incident.objects.get(pk=incident.pk).status
        incident_services.incident_change_status(
            incident_id=incident.pk, user=responder, from_status=current, to_status=target
        )
    time_machine.shift(timedelta(minutes=16))
    fire(incident)
    assert escalation_of(incident).state == Escalation.State.STOPPED
    assert not http.to("/ok/sms")


def test_resolving_stops_paging_at_once_not_at_the_next_step(
    time_machine: Any,
    declare: Callable[..., Incident],
    responder: User,
    people: People,
    http: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    time_machine.move_to(T0, tick=False)
    incident = declare(responder, scenario="database_failure", severity="sev2")
    fire(incident)
    assert escalation_of(incident).state == Escalation.State.ACTIVE

    with django_capture_on_commit_callbacks(execute=True):
        incident_services.incident_change_status(
            incident_id=incident.pk, user=responder, from_status="investigating", to_status="resolved"
        )

    escalation = escalation_of(incident)
    assert escalation.state == Escalation.State.STOPPED
    assert escalation.next_step_due_at is None
    stopped = events(incident)[-1]
    assert stopped.kind == EventKind.PAGING_STOPPED
    assert stopped.data == {"reason": "incident_over", "status": "resolved"}
    assert stopped.component == Component.ESCALATION
    assert stopped.text == f"Paging stopped: {incident.reference} is resolved."


def test_an_empty_path_says_nobody_can_be_paged(
    declare: Callable[..., Incident], responder: User, procedures: Any
) -> None:
    EscalationLevel.objects.all().delete()
    incident = declare(responder, scenario="system_outage", severity="sev2")
    escalation = escalation_of(incident)
    # The runbook's first contact is still paged, though no one holds the role.
    assert [level.role_name for level in escalation.levels.all()] == ["System Administrator"]
    fire(incident)
    escalation = escalation_of(incident)
    assert escalation.state == Escalation.State.EXHAUSTED
    row = next(r for r in board().active if r.incident.pk == incident.pk)
    assert any("UNACKNOWLEDGED" in reason for reason in row.overdue)
    # The one level, then the path again: nobody either time.
    assert kinds(incident)[-4:] == [
        EventKind.PAGING_STARTED,
        EventKind.NOBODY_TO_PAGE,
        EventKind.NOBODY_TO_PAGE,
        EventKind.PAGING_EXHAUSTED,
    ]
    assert events(incident, EventKind.PAGING_EXHAUSTED)[0].data == {"rounds": 1}


def test_paging_can_be_off_on_declaration(
    settings: Any, declare: Callable[..., Incident], responder: User, people: People
) -> None:
    settings.PAGING_ON_DECLARE = False
    incident = declare(responder)
    assert not Escalation.objects.filter(incident=incident).exists()


def test_timeline_and_log_say_who_and_when(
    declare: Callable[..., Incident], responder: User, people: People, smtp: SmtpServer
) -> None:
    incident = declare(responder, scenario="database_failure", severity="sev2")
    fire(incident)
    (entry,) = events(incident, EventKind.PAGE_SENT)
    assert entry.actor is None
    assert entry.actor_name == "Escalation"
    assert not events(incident, EventKind.NOTIFICATION_RECORDED), "the page's own event says it"
    log = NotificationEntry.objects.get(incident=incident)
    assert entry.notification == log
    assert entry.page == Page.objects.get(incident=incident)
    assert log.method == NotificationEntry.Method.EMAIL
    assert log.contact == people.dba
    assert log.recipient == "Dana Dba (Database Administrator)"
    assert log.ack_due_at == escalation_of(incident).next_step_due_at


def test_acknowledging_twice_says_by_whom(
    declare: Callable[..., Incident], responder: User, second_responder: User, people: People
) -> None:
    incident = declare(responder, scenario="database_failure", severity="sev2")
    fire(incident)
    responses.escalation_acknowledge(incident_id=incident.pk, user=responder, via="on the incident page")
    with pytest.raises(AlreadyAcknowledged, match="Already acknowledged by Riley Responder at"):
        responses.escalation_acknowledge(incident_id=incident.pk, user=second_responder, via="on the incident page")
    (acknowledged,) = events(incident, EventKind.ACKNOWLEDGED)
    assert acknowledged.actor == responder
    assert acknowledged.page is None
