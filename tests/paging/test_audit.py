"""The auditor runs what was due and did not run (a worker, beat or a message lost), records that
it did, and warns on the board when it was more than a few minutes late."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.accounts.models import User
from apps.incidents.models import Component, EventKind, Incident, TimelineEvent
from apps.paging.models import Escalation, EscalationStep, Page
from apps.paging.selectors import attention
from apps.paging.services.escalation import step_run
from apps.paging.tasks import audit_escalations, run_escalation_step
from tests.factories import declare_incident
from tests.paging.conftest import People, escalation_of, events, fire
from tests.paging.servers import HttpServer, SmtpServer

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)


def reasons(incident: Incident) -> list[str]:
    """Paging's warnings for the incident's row on the board."""
    return attention([incident]).get(incident.pk, [])


@pytest.fixture
def escalating(time_machine: Any, declare: Callable[..., Incident], responder: User, people: People) -> Incident:
    time_machine.move_to(T0, tick=False)
    incident = declare(responder, scenario="database_failure", severity="sev2")
    fire(incident)
    return incident


def test_a_step_within_its_grace_period_is_left_to_its_worker(
    escalating: Incident, time_machine: Any, http: HttpServer
) -> None:
    time_machine.shift(timedelta(minutes=15, seconds=10))
    assert audit_escalations() == {"steps_run": [], "pages_delivered": [], "escalations_started": []}
    assert not http.to("/ok/sms")


def test_an_overdue_step_is_run_once_and_recorded_as_late(
    escalating: Incident, time_machine: Any, http: HttpServer
) -> None:
    step_id = escalation_of(escalating).active_step_id
    time_machine.shift(timedelta(minutes=16))
    report = audit_escalations()
    assert report["steps_run"] == [step_id]
    assert len(http.wait_to("/ok/sms")) == 1
    (late,) = events(escalating, EventKind.ESCALATION_LATE)
    assert late.step_id == step_id
    assert late.component == Component.AUDITOR
    assert late.data == {"seconds": 60, "step_number": 2, "step_kind": "timeout"}
    assert late.text == (
        "Auditor: escalation step 2 (escalation after the timeout) was 60 s overdue "
        "(a worker or beat was down, or its message was lost); running it now."
    )
    # What the late step did is the auditor's doing.
    assert TimelineEvent.objects.filter(
        incident=escalating, kind=EventKind.ESCALATION_STEP, step_id=step_id, component=Component.AUDITOR
    ).exists()
    assert EscalationStep.objects.get(pk=step_id).ran_by_auditor
    # The lost message turns up after all: it does nothing.
    assert run_escalation_step(step_id) == "stale"
    assert audit_escalations()["steps_run"] == []
    assert len(http.to("/ok/sms")) == 1
    assert not any("late" in reason for reason in reasons(escalating)), "one minute late is not a board warning"


def test_a_step_overdue_by_minutes_is_a_warning_on_the_board_until_acknowledged(
    escalating: Incident, time_machine: Any, http: HttpServer, responder_client: Any
) -> None:
    time_machine.shift(timedelta(minutes=15 + 4))
    assert "Escalation overdue by 4 min: workers or beat down?" in reasons(escalating)
    audit_escalations()
    assert "Escalation step ran 4 min late: check the workers and beat" in reasons(escalating)
    responder_client.post(f"/paging/incidents/{escalating.pk}/acknowledge/")
    assert reasons(escalating) == []


def test_pages_left_unsent_by_a_stopped_worker_are_sent(
    time_machine: Any, declare: Callable[..., Incident], responder: User, people: People, smtp: SmtpServer
) -> None:
    time_machine.move_to(T0, tick=False)
    incident = declare(responder, scenario="database_failure", severity="sev2")
    # The worker ran the step and stopped before delivering its pages.
    step_run(step_id=escalation_of(incident).active_step_id or 0)
    time_machine.shift(timedelta(seconds=30))
    report = audit_escalations()
    assert len(report["pages_delivered"]) == 1
    assert len(smtp.wait_to("dana@example.com")) == 1
    (audited,) = events(incident, EventKind.PAGE_AUDITED)
    assert audited.page_id == report["pages_delivered"][0]
    assert audited.component == Component.AUDITOR
    assert audited.data["what"] == "unsent"
    assert audited.text.endswith("was never sent (its worker stopped); the auditor sent it.")


def test_a_page_interrupted_while_sending_is_sent_again(
    time_machine: Any, declare: Callable[..., Incident], responder: User, people: People, smtp: SmtpServer
) -> None:
    time_machine.move_to(T0, tick=False)
    incident = declare(responder, scenario="database_failure", severity="sev2")
    outcome = step_run(step_id=escalation_of(incident).active_step_id or 0)
    Page.objects.filter(pk=outcome.page_ids[0]).update(state=Page.State.SENDING, claimed_at=T0)
    time_machine.shift(timedelta(seconds=30))
    assert audit_escalations()["pages_delivered"] == [], "a page being sent right now is left alone"
    time_machine.shift(timedelta(minutes=2))
    assert audit_escalations()["pages_delivered"] == outcome.page_ids
    assert smtp.wait_to("dana@example.com")
    assert Page.objects.get(pk=outcome.page_ids[0]).state == Page.State.SENT
    (audited,) = events(incident, EventKind.PAGE_AUDITED)
    assert (audited.page_id, audited.data["what"]) == (outcome.page_ids[0], "interrupted")


def test_an_incident_whose_paging_never_started_is_started(time_machine: Any, responder: User, people: People) -> None:
    time_machine.move_to(T0, tick=False)
    # Declared, and the process stopped before the declaration's signal: no escalation.
    incident = declare_incident(responder, scenario="database_failure", severity="sev2")
    assert not Escalation.objects.filter(incident=incident).exists()
    time_machine.shift(timedelta(minutes=1))
    assert audit_escalations()["escalations_started"] == [incident.pk]
    assert escalation_of(incident).state == Escalation.State.ACTIVE
    (started,) = events(incident, EventKind.PAGING_STARTED)
    assert started.component == Component.AUDITOR
    assert started.actor is None
    assert started.text.startswith("Auditor: paging had not started for this incident. Paging started:")
