"""The paging panel on the incident page: where the escalation stands, and its buttons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.incidents.models import EventKind, Incident, NotificationEntry, TimelineEvent
from apps.paging.models import Escalation, EscalationStep, Page
from tests.paging.conftest import HTMX, People, escalation_of, events, fire
from tests.paging.servers import HttpServer, SmtpServer

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)


@pytest.fixture
def escalating(time_machine: Any, declare: Callable[..., Incident], responder: User, people: People) -> Incident:
    time_machine.move_to(T0, tick=False)
    incident = declare(responder, scenario="database_failure", severity="sev2", title="Primary database down")
    fire(incident)
    return incident


def test_the_panel_shows_the_path_where_it_stands_and_when_the_next_step_fires(
    escalating: Incident, manager_client: Client
) -> None:
    page = manager_client.get(f"/incidents/{escalating.pk}/").content.decode()
    assert '<small data-testid="paging-state" class="paging-state state-active">Escalating</small>' in page
    assert "Next: page Technical Lead at" in page
    assert "03:15:00 UTC" in page
    assert '<li class="level-current">Database Administrator' in page
    assert '<li class="level-before">System Administrator' in page
    assert '<li class="level-next">Technical Lead' in page
    assert "dana@example.com: sent (accepted by the mail server)" in page
    # A manager sees, but has no buttons.
    assert "Escalate now" not in page


def test_a_responder_acknowledges_from_the_incident_page(escalating: Incident, responder_client: Client) -> None:
    response = responder_client.post(f"/paging/incidents/{escalating.pk}/acknowledge/", **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Acknowledged by <strong>Riley Responder</strong>" in body
    assert "Acknowledged: the escalation has stopped." in body
    escalation = escalation_of(escalating)
    assert escalation.state == Escalation.State.ACKNOWLEDGED
    assert escalation.acknowledged_via == "on the incident page"
    entry = events(escalating)[-1]
    assert entry.kind == EventKind.ACKNOWLEDGED
    assert entry.actor is not None
    assert entry.actor.username == "riley"
    assert entry.data == {"name": "Riley Responder", "via": "on the incident page"}

    again = responder_client.post(f"/paging/incidents/{escalating.pk}/acknowledge/")
    assert again.status_code == 302
    follow = responder_client.get(f"/incidents/{escalating.pk}/").content.decode()
    assert "Already acknowledged by Riley Responder at 2026-03-04 03:00 UTC." in follow


def test_escalate_now_pages_the_next_level_once_however_often_it_is_clicked(
    escalating: Incident, responder_client: Client, http: HttpServer
) -> None:
    seen = escalation_of(escalating).active_step_id
    first = responder_client.post(f"/paging/incidents/{escalating.pk}/escalate/", {"seen_step": seen}, **HTMX)
    second = responder_client.post(f"/paging/incidents/{escalating.pk}/escalate/", {"seen_step": seen}, **HTMX)
    assert first.status_code == 200
    assert second.status_code == 409
    assert "The escalation moved on while you were looking" in second.content.decode()
    escalation = escalation_of(escalating)
    assert escalation.active_step is not None
    assert escalation.active_step.kind == EscalationStep.Kind.ESCALATE
    fire(escalating)
    assert len(http.wait_to("/ok/sms")) == 1
    (escalated,) = events(escalating, EventKind.ESCALATED)
    assert escalated.actor is not None
    assert escalated.actor.username == "riley"
    assert escalated.step == escalation.active_step
    assert escalated.data == {"levels": [{"level": 3, "name": "Technical Lead"}]}
    assert escalated.text == "Escalated by hand: paging level 3. Technical Lead now."


def test_re_page_pages_the_current_level_again_and_restarts_its_timeout(
    escalating: Incident, responder_client: Client, smtp: SmtpServer, time_machine: Any
) -> None:
    time_machine.shift(timedelta(minutes=10))
    seen = escalation_of(escalating).active_step_id
    response = responder_client.post(f"/paging/incidents/{escalating.pk}/repage/", {"seen_step": seen})
    assert response.status_code == 302
    fire(escalating)
    assert len(smtp.wait_to("dana@example.com", count=2)) == 2
    assert escalation_of(escalating).next_step_due_at == T0 + timedelta(minutes=25)
    (repaged,) = events(escalating, EventKind.REPAGED)
    assert repaged.step is not None
    assert repaged.step.kind == EscalationStep.Kind.REPAGE
    assert repaged.text == "Re-paging level 2. Database Administrator by hand."


def test_escalating_an_unacknowledged_incident_starts_paging_again(
    escalating: Incident, responder_client: Client, http: HttpServer
) -> None:
    Escalation.objects.filter(incident=escalating).update(state=Escalation.State.EXHAUSTED, active_step=None)
    response = responder_client.post(f"/paging/incidents/{escalating.pk}/escalate/", {"seen_step": ""})
    assert response.status_code == 302
    assert escalation_of(escalating).state == Escalation.State.ACTIVE


def test_bad_input_is_answered_400(escalating: Incident, responder_client: Client) -> None:
    response = responder_client.post(f"/paging/incidents/{escalating.pk}/escalate/", {"seen_step": "abc"}, **HTMX)
    assert response.status_code == 400
    assert "That escalation was not understood" in response.content.decode()


@pytest.mark.parametrize("action", ["acknowledge", "escalate", "repage", "start"])
def test_only_responders_and_admins_may_act(
    escalating: Incident, manager_client: Client, comms_client: Client, anonymous: Client, action: str
) -> None:
    url = f"/paging/incidents/{escalating.pk}/{action}/"
    assert manager_client.post(url).status_code == 403
    assert comms_client.post(url).status_code == 403
    assert anonymous.post(url).status_code == 302
    assert manager_client.get(url).status_code == 405
    assert escalation_of(escalating).state == Escalation.State.ACTIVE


def test_paging_can_be_started_by_hand(
    settings: Any, declare: Callable[..., Incident], responder: User, responder_client: Client, people: People
) -> None:
    settings.PAGING_ON_DECLARE = False
    incident = declare(responder, scenario="database_failure", severity="sev2")
    assert "Start paging" in responder_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert responder_client.post(f"/paging/incidents/{incident.pk}/start/").status_code == 302
    assert escalation_of(incident).state == Escalation.State.ACTIVE
    assert responder_client.post(f"/paging/incidents/{incident.pk}/start/", **HTMX).status_code == 409


def test_acknowledging_a_page_in_the_notification_log_acknowledges_the_escalation(
    escalating: Incident, responder_client: Client, people: People, django_capture_on_commit_callbacks: Any
) -> None:
    entry = NotificationEntry.objects.get(incident=escalating)
    with django_capture_on_commit_callbacks(execute=True):
        response = responder_client.post(f"/incidents/{escalating.pk}/notifications/{entry.pk}/ack/")
    assert response.status_code == 302
    escalation = escalation_of(escalating)
    assert escalation.state == Escalation.State.ACKNOWLEDGED
    assert escalation.acknowledged_by_contact == people.dba
    assert TimelineEvent.objects.filter(
        incident=escalating,
        kind=EventKind.ACKNOWLEDGED,
        page=Page.objects.get(incident=escalating),
        data={"name": "Dana Dba", "via": "recorded in the notification log"},
    ).exists()
