"""The update cadence, with time under control: the board marks communications overdue, the
coordinator is reminded once per overdue period, the managers' overview shows every incident's
latest update and its age."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.comms import selectors, tasks
from apps.comms.models import CadenceReminder, Component
from apps.comms.services import cadence
from apps.incidents import services
from apps.incidents.models import Component as Actor
from apps.incidents.models import EventKind, Incident, Severity
from tests.comms.conftest import post
from tests.factories import declare_incident

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
OVERDUE = "Communications overdue (SEV1: an update every 30 min)"


def _declare(responder: User, coordinator: User | None, severity: str = Severity.SEV1) -> Incident:
    return declare_incident(responder, severity=severity, title="Database down", coordinator=coordinator)


def test_the_coordinator_is_reminded_once_per_overdue_period(
    responder: User,
    coordinator: User,
    comms: User,
    components: dict[str, Component],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        incident = _declare(responder, coordinator)
        clock.move_to(NOW + timedelta(minutes=29))
        assert cadence.cadence_check() == []

        clock.move_to(NOW + timedelta(minutes=31))
        with django_capture_on_commit_callbacks() as callbacks:
            [reminder] = cadence.cadence_check()
        assert reminder.due_at == NOW + timedelta(minutes=30)
        assert reminder.recipient == coordinator.email
        assert callbacks, "the reminder mail is queued after commit"
        tasks.send_reminder(reminder.pk)  # what the worker runs
        [message] = mail.outbox
        assert message.to == [coordinator.email]
        assert message.subject == f"[{incident.reference}] Stakeholder update due"
        assert f"http://127.0.0.1:8000/incidents/{incident.pk}/updates/new/" in message.body
        overdue = incident.events.get(kind=EventKind.UPDATE_OVERDUE)
        assert (overdue.actor, overdue.component) == (None, Actor.CADENCE)
        assert overdue.data == {
            "due_at": (NOW + timedelta(minutes=30)).isoformat(),
            "reminded": {"id": coordinator.pk, "name": "Cora Coordinator", "role": "coordinator"},
        }

        # The same overdue period is not reminded twice, however often the check runs.
        clock.move_to(NOW + timedelta(minutes=50))
        assert cadence.cadence_check() == []
        assert tasks.send_reminder(reminder.pk) is None
        assert len(mail.outbox) == 1

        # An update starts a new period: the next reminder is for that one.
        clock.move_to(NOW + timedelta(minutes=55))
        post(comms, incident, components, audience="internal", title="")
        clock.move_to(NOW + timedelta(minutes=84))
        assert cadence.cadence_check() == []
        clock.move_to(NOW + timedelta(minutes=86))
        [second] = cadence.cadence_check()
        assert second.due_at == NOW + timedelta(minutes=85)
    assert CadenceReminder.objects.count() == 2


def test_without_a_coordinator_the_commander_is_reminded(responder: User) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        incident = _declare(responder, None)
        clock.move_to(NOW + timedelta(minutes=31))
        [reminder] = cadence.cadence_check()
        tasks.send_reminder(reminder.pk)
    assert reminder.recipient == responder.email
    assert "This incident has no communication coordinator" in mail.outbox[0].body
    overdue = incident.events.get(kind=EventKind.UPDATE_OVERDUE)
    assert overdue.data["reminded"] == {"id": responder.pk, "name": "Riley Responder", "role": "commander"}


def test_the_cadence_follows_the_severity_setting(responder: User, coordinator: User, settings: Any) -> None:
    settings.COMMS_CADENCE_MINUTES = {**settings.COMMS_CADENCE_MINUTES, "sev3": 10}
    with time_machine.travel(NOW, tick=False) as clock:
        _declare(responder, coordinator, severity=Severity.SEV3)
        clock.move_to(NOW + timedelta(minutes=9))
        assert cadence.cadence_check() == []
        clock.move_to(NOW + timedelta(minutes=11))
        assert len(cadence.cadence_check()) == 1


def test_a_raised_severity_is_a_new_period(responder: User, coordinator: User) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        incident = _declare(responder, coordinator, severity=Severity.SEV2)
        clock.move_to(NOW + timedelta(minutes=35))
        assert cadence.cadence_check() == []  # SEV2: an hour
        services.incident_update(
            incident_id=incident.pk,
            user=responder,
            changes=[services.FieldChange("severity", Severity.SEV2, Severity.SEV1)],
        )
        [reminder] = cadence.cadence_check()
        assert reminder.due_at == NOW + timedelta(minutes=30)


def test_the_board_marks_communications_overdue(
    responder: User, coordinator: User, comms: User, responder_client: Client
) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        incident = _declare(responder, coordinator)
        clock.move_to(NOW + timedelta(minutes=20))
        assert OVERDUE not in responder_client.get("/").content.decode()
        clock.move_to(NOW + timedelta(minutes=31))
        board = responder_client.get("/").content.decode()
        assert OVERDUE in board
        page = responder_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
        assert "Update overdue" in page
        post(comms, incident, audience="internal", title="")
        assert OVERDUE not in responder_client.get("/").content.decode()


def test_the_attention_provider_asks_once_for_every_incident(
    responder: User, coordinator: User, django_assert_num_queries: Callable[..., Any]
) -> None:
    incidents = [_declare(responder, coordinator) for _ in range(4)]
    with django_assert_num_queries(1):
        selectors.attention(incidents)


def test_resolved_inside_but_not_outside_is_still_under_the_cadence(
    responder: User, coordinator: User, comms: User, components: dict[str, Component], manager_client: Client
) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        incident = _declare(responder, coordinator)
        post(comms, incident, components)
        for target in ("resolved",):
            services.incident_change_status(
                incident_id=incident.pk, user=responder, from_status=incident.status, to_status=target
            )
        clock.move_to(NOW + timedelta(minutes=31))
        assert len(cadence.cadence_check()) == 1
        overview = manager_client.get(reverse("comms:overview")).content.decode()
        assert "resolved inside, not yet on the page" in overview
        post(comms, incident, components, status="resolved", body="Fixed.")
        clock.move_to(NOW + timedelta(minutes=70))
        assert cadence.cadence_check() == []


def test_the_overview_lists_each_incident_with_its_latest_update_and_age(
    responder: User,
    coordinator: User,
    comms: User,
    manager_client: Client,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        quiet = _declare(responder, coordinator)
        talked = _declare(responder, coordinator, severity=Severity.SEV2)
        clock.move_to(NOW + timedelta(minutes=5))
        post(comms, talked, audience="internal", title="", body="Engineers are on the call.")
        clock.move_to(NOW + timedelta(minutes=40))
        response = manager_client.get(reverse("comms:overview"))
    assert response.status_code == 200
    rows = {row.incident.pk: row for row in response.context["rows"]}
    assert rows[quiet.pk].latest is None
    assert rows[quiet.pk].overdue
    assert rows[talked.pk].latest.body == "Engineers are on the call."
    assert not rows[talked.pk].overdue
    html = response.content.decode()
    assert "overdue since 4 Mar, 10:30" in html
    assert "35\xa0minutes" in html  # the latest update's age
    assert "Engineers are on the call." in html


def test_the_overview_needs_a_sign_in(client: Client) -> None:
    response = client.get(reverse("comms:overview"))
    assert response.status_code == 302


def test_with_nobody_to_remind_the_timeline_says_so_and_no_mail_is_queued(
    responder: User, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        incident = _declare(responder, None)
        Incident.objects.filter(pk=incident.pk).update(commander=None)
        clock.move_to(NOW + timedelta(minutes=31))
        with django_capture_on_commit_callbacks(execute=True):
            [reminder] = cadence.cadence_check()
    assert reminder.recipient == ""
    assert mail.outbox == []
    overdue = incident.events.get(kind=EventKind.UPDATE_OVERDUE)
    assert overdue.data == {"due_at": (NOW + timedelta(minutes=30)).isoformat(), "reminded": None}
