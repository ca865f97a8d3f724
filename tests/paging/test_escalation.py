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
from apps.incidents.models import Incident, NotificationEntry, TimelineEntry
from apps.incidents.selectors import board
from apps.paging import engine
from apps.paging.models import Escalation, EscalationStep, Page
from apps.paging.tasks import run_escalation_step
from tests.paging.conftest import People, escalation_of, fire
from tests.paging.servers import SmtpServer, ack_link, text_of

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)


def timeline(incident: Incident) -> list[str]:
    return list(incident.timeline.order_by("created_at", "pk").values_list("summary", flat=True))


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

    entries = timeline(incident)
    assert any(e.startswith("Paging started: first page to level 2. Database Administrator (SEV1") for e in entries)
    assert any(e.startswith("Paged Dana Dba (Database Administrator) by email to dana@example.com") for e in entries)
    assert any(e.startswith("Escalation after the timeout: paging level 3. Technical Lead") for e in entries)
    assert any(e.startswith("Paged Terry Lead (Technical Lead) by sms to +44 20 7946 0003") for e in entries)
    assert entries[-1] == "Dana Dba acknowledged the page (acknowledgement link): escalation stopped."
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
    assert "Nobody to page at level 3. Technical Lead: moving on." in timeline(incident)


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
    assert timeline(incident)[-1] == f"Paging stopped: {incident.reference} is resolved."


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
    entry = incident.timeline.filter(kind=TimelineEntry.Kind.NOTIFICATION).get()
    assert entry.author is None
    assert entry.author_name == "Incident Center"
    log = NotificationEntry.objects.get(incident=incident)
    assert log.method == NotificationEntry.Method.EMAIL
    assert log.contact == people.dba
    assert log.recipient == "Dana Dba (Database Administrator)"
    assert log.ack_due_at == escalation_of(incident).next_step_due_at


def test_acknowledging_twice_says_by_whom(
    declare: Callable[..., Incident], responder: User, second_responder: User, people: People
) -> None:
    incident = declare(responder, scenario="database_failure", severity="sev2")
    fire(incident)
    engine.escalation_acknowledge(incident_id=incident.pk, user=responder, via="on the incident page")
    with pytest.raises(engine.AlreadyAcknowledged, match="Already acknowledged by Riley Responder at"):
        engine.escalation_acknowledge(incident_id=incident.pk, user=second_responder, via="on the incident page")
