"""The board, the incident list and the incident page: a fixed number of queries whatever the
number of rows, and the board's order, sections and "needs attention" reasons."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from itertools import cycle

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.incidents import services
from apps.incidents.models import ChecklistItem, Component, EventKind, Incident, NotificationEntry, TimelineEvent
from apps.incidents.services import FieldChange
from apps.remediation.models import ActionRun
from apps.runbooks.models import Runbook
from tests.factories import ContactFactory, UserFactory, declare_incident, make_run

SEVERITIES = ["sev1", "sev2", "sev3", "sev4"]
ACTIVE = ["investigating", "identified", "mitigating", "monitoring"]


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def _people(count: int) -> list[User]:
    """Distinct users, so a missing select_related would cost a query per row."""
    return [UserFactory(username=f"bulk{n}", first_name=f"Person{n}", last_name="Bulk") for n in range(count)]


def _bulk_incidents(count: int, declarer: User, people: list[User]) -> list[Incident]:
    """Test data written directly: `count` incidents, a tenth of them resolved in the last day,
    each with its Initial Response steps (some done) and a notification (some overdue)."""
    now = timezone.now()
    commanders = cycle([*people, None])
    incidents = Incident.objects.bulk_create(
        Incident(
            title=f"Bulk incident {n}",
            scenario="system_outage",
            severity=SEVERITIES[n % 4],
            status="resolved" if n % 10 == 0 else ACTIVE[n % 4],
            declared_by=declarer,
            declared_at=now - timedelta(minutes=n + 30),
            noticed_at=now - timedelta(minutes=n + 40),
            status_changed_at=now,
            resolved_at=now - timedelta(minutes=n % 600) if n % 10 == 0 else None,
            commander=next(commanders),
            coordinator=people[n % len(people)] if n % 3 else None,
        )
        for n in range(count)
    )
    doers = cycle(people)
    ChecklistItem.objects.bulk_create(
        ChecklistItem(
            incident=incident,
            position=position,
            phase="initial_response",
            title=f"Step {position}",
            state="done" if position <= n % 5 else "pending",
            completed_by=next(doers) if position <= n % 5 else None,
            completed_at=now if position <= n % 5 else None,
        )
        for n, incident in enumerate(incidents)
        for position in range(1, 5)
    )
    NotificationEntry.objects.bulk_create(
        NotificationEntry(
            incident=incident,
            recipient=f"Person {n}",
            method="phone",
            recorded_by=people[n % len(people)],
            notified_at=now - timedelta(minutes=40),
            ack_due_at=now - timedelta(minutes=25 - n % 50),
        )
        for n, incident in enumerate(incidents)
    )
    return incidents


# --- query counts --------------------------------------------------------------------------------


def test_the_board_query_count_does_not_grow_with_incidents(
    procedures: list[Runbook], responder: User, manager_client: Client
) -> None:
    people = _people(6)
    for n in range(10):
        declare_incident(responder, severity=SEVERITIES[n % 4], title=f"Declared {n}", commander=people[n % 6])
    at_ten = _queries(manager_client, "/")

    _bulk_incidents(1_000, responder, people)
    at_1010 = _queries(manager_client, "/")

    print(f"\nboard queries: {at_ten} at 10 incidents, {at_1010} at 1,010 incidents")
    assert Incident.objects.count() == 1_010
    page = manager_client.get("/").text
    assert page.count('<tr class="sev-') == 1_010
    assert at_1010 == at_ten


def test_the_board_query_count_is_the_same_for_every_role(
    procedures: list[Runbook], responder: User, manager_client: Client, responder_client: Client
) -> None:
    _bulk_incidents(50, responder, _people(3))

    assert _queries(responder_client, "/") == _queries(manager_client, "/")


def test_the_incident_list_query_count_does_not_grow_with_incidents(
    procedures: list[Runbook], responder: User, manager_client: Client
) -> None:
    people = _people(6)
    _bulk_incidents(10, responder, people)
    at_ten = _queries(manager_client, reverse("incidents:list"))

    _bulk_incidents(190, responder, people)
    at_200 = _queries(manager_client, reverse("incidents:list"))
    second_page = _queries(manager_client, reverse("incidents:list") + "?page=2&status=&scenario=")

    print(f"\nincident list queries: {at_ten} at 10 incidents, {at_200} at 200 incidents")
    assert at_200 == at_ten
    assert second_page == at_ten


def _bulk_history(
    incident: Incident,
    people: list[User],
    contacts: list[Contact],
    runs: list[ActionRun],
    *,
    entries: int,
    notifications: int,
) -> None:
    """Events of several kinds, by distinct people and by components, some referring to steps and
    runs, so an actor, a reference or a link read one by one would cost a query per row."""
    now = timezone.now()
    items = cycle(incident.checklist.order_by("position"))
    verified_by = cycle(runs)
    kinds = cycle(
        [
            (EventKind.NOTE_ADDED, {}),
            (EventKind.STEP_DONE, {"title": "Step", "verified": True}),
            (EventKind.DETAILS_CHANGED, {"field": "impact", "value": "Checkout is slow"}),
            (EventKind.STATUS_CHANGED, {"from": "investigating", "to": "identified"}),
            (EventKind.ROLE_ASSIGNED, {"role": "coordinator", "user": people[0].pk, "name": "Person0 Bulk"}),
            (EventKind.NOTIFICATION_RECORDED, {"recipient": "Dee DBA", "method": "sms", "note": ""}),
        ]
    )
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            kind=kind,
            actor=people[n % len(people)] if n % 3 else None,
            component="" if n % 3 else Component.ESCALATION,
            at=now - timedelta(seconds=n),
            data=data,
            body=f"**Entry {n}** with [a link](https://example.com/{n})" if kind == EventKind.NOTE_ADDED else "",
            item=next(items) if kind == EventKind.STEP_DONE else None,
            run=next(verified_by) if kind == EventKind.STEP_DONE else None,
        )
        for n, (kind, data) in zip(range(entries), kinds, strict=False)
    )
    NotificationEntry.objects.bulk_create(
        NotificationEntry(
            incident=incident,
            contact=contacts[n % len(contacts)],
            recipient=f"Person {n}",
            method="phone",
            recorded_by=people[n % len(people)],
            notified_at=now - timedelta(minutes=n),
            ack_due_at=now - timedelta(minutes=n) + timedelta(minutes=15),
            acknowledged_at=now if n % 2 else None,
            acknowledged_recorded_by=people[(n + 1) % len(people)] if n % 2 else None,
        )
        for n in range(notifications)
    )


@pytest.mark.parametrize("client_name", ["manager_client", "responder_client"])
def test_the_incident_page_query_count_does_not_grow_with_its_history(
    request: pytest.FixtureRequest, procedures: list[Runbook], responder: User, client_name: str
) -> None:
    client: Client = request.getfixturevalue(client_name)
    people = _people(6)
    contacts = [ContactFactory() for _ in range(4)]
    incident = declare_incident(responder, commander=people[0], coordinator=people[1])
    runs = [make_run(incident, people[n], host_name=f"web-{n}") for n in range(4)]
    for n, item in enumerate(incident.checklist.order_by("position")[:6]):
        services.checklist_item_set_state(
            incident_id=incident.pk, item_id=item.pk, user=people[n], state="done", from_state="pending"
        )
    _bulk_history(incident, people, contacts, runs, entries=10 - incident.events.count(), notifications=10)
    url = reverse("incidents:detail", args=[incident.pk])
    at_ten = _queries(client, url)

    _bulk_history(incident, people, contacts, runs, entries=190, notifications=190)
    at_200 = _queries(client, url)

    print(f"\nincident page queries ({client_name}): {at_ten} at 10 entries, {at_200} at 200 entries")
    assert incident.events.count() == 200
    assert incident.notifications.count() == 200
    page = client.get(url).text
    assert page.count('<li class="entry kind-') == 200
    assert at_200 == at_ten


# --- what the board shows ------------------------------------------------------------------------


def _sections(page: str) -> tuple[list[int], list[int]]:
    active, resolved = page.split("Resolved in the last", 1)
    return (
        [int(pk) for pk in re.findall(r'data-incident="(\d+)"', active)],
        [int(pk) for pk in re.findall(r'data-incident="(\d+)"', resolved)],
    )


def _declare_at(when: datetime, user: User, severity: str, title: str) -> Incident:
    with time_machine.travel(when, tick=False):
        return declare_incident(user, severity=severity, title=title)


def _move(incident: Incident, user: User, when: datetime, *statuses: str) -> None:
    with time_machine.travel(when, tick=False):
        for target in statuses:
            current = Incident.objects.get(pk=incident.pk).status
            services.incident_change_status(incident_id=incident.pk, user=user, from_status=current, to_status=target)


def test_the_board_sorts_active_incidents_by_severity_then_age(
    procedures: list[Runbook], responder: User, manager_client: Client
) -> None:
    now = timezone.now()
    sev2_newer = _declare_at(now - timedelta(hours=3), responder, "sev2", "SEV2 newer")
    sev1_newer = _declare_at(now - timedelta(hours=1), responder, "sev1", "SEV1 newer")
    sev2_older = _declare_at(now - timedelta(hours=5), responder, "sev2", "SEV2 older")
    sev1_older = _declare_at(now - timedelta(hours=2), responder, "sev1", "SEV1 older")
    sev4 = _declare_at(now - timedelta(hours=10), responder, "sev4", "SEV4 oldest")
    _move(sev2_older, responder, now - timedelta(hours=4), "mitigating")

    active, resolved = _sections(manager_client.get("/").text)

    assert active == [sev1_older.pk, sev1_newer.pk, sev2_older.pk, sev2_newer.pk, sev4.pk]
    assert resolved == []


def test_the_board_shows_incidents_resolved_in_the_last_day_below(
    procedures: list[Runbook], responder: User, manager_client: Client
) -> None:
    now = timezone.now()
    active = _declare_at(now - timedelta(hours=3), responder, "sev3", "Still burning")
    resolved_2h = _declare_at(now - timedelta(hours=5), responder, "sev1", "Fixed two hours ago")
    _move(resolved_2h, responder, now - timedelta(hours=2), "resolved")
    closed_1h = _declare_at(now - timedelta(hours=6), responder, "sev2", "Closed, fixed an hour ago")
    _move(closed_1h, responder, now - timedelta(hours=1), "resolved", "closed")
    resolved_long_ago = _declare_at(now - timedelta(hours=30), responder, "sev1", "Fixed yesterday")
    _move(resolved_long_ago, responder, now - timedelta(hours=25), "resolved")
    reopened = _declare_at(now - timedelta(hours=8), responder, "sev2", "Came back")
    _move(reopened, responder, now - timedelta(hours=7), "resolved")
    _move(reopened, responder, now - timedelta(minutes=30), "investigating")

    page = manager_client.get("/").text
    in_active, in_resolved = _sections(page)

    assert in_active == [reopened.pk, active.pk]
    assert in_resolved == [closed_1h.pk, resolved_2h.pk]
    assert "Fixed yesterday" not in page
    assert "Resolved in the last 24 hours" in page


def _row(page: str, incident: Incident) -> str:
    match = re.search(rf'data-incident="{incident.pk}">(.*?)</tr>', page, re.DOTALL)
    assert match is not None, f"{incident.reference} is not on the board"
    return match.group(1)


def _reasons(page: str, incident: Incident) -> list[str]:
    return re.findall(r'<span class="overdue">([^<]*)</span>', _row(page, incident))


def test_an_incident_without_a_commander_needs_attention_at_once(
    procedures: list[Runbook], responder: User, manager_client: Client
) -> None:
    declared = timezone.now()
    incident = _declare_at(declared, responder, "sev2", "Nobody in charge")
    with time_machine.travel(declared + timedelta(minutes=1), tick=False):
        assert _reasons(manager_client.get("/").text, incident) == []
        services.incident_update(
            incident_id=incident.pk, user=responder, changes=[FieldChange("commander", responder, None)]
        )

        page = manager_client.get("/").text
        detail = manager_client.get(reverse("incidents:detail", args=[incident.pk])).text

    assert _reasons(page, incident) == ["No incident commander"]
    assert 'class="sev-sev2 attention"' in page
    assert '<p class="overdue">No incident commander</p>' in detail


def test_an_unfinished_initial_response_needs_attention_after_15_minutes(
    procedures: list[Runbook], responder: User, manager_client: Client
) -> None:
    declared = timezone.now()
    incident = _declare_at(declared, responder, "sev1", "Slow start")

    with time_machine.travel(declared + timedelta(minutes=14), tick=False):
        assert _reasons(manager_client.get("/").text, incident) == []
    with time_machine.travel(declared + timedelta(minutes=16), tick=False):
        assert _reasons(manager_client.get("/").text, incident) == ["Initial response unfinished after 15 min"]
        for item in incident.checklist.filter(phase="initial_response"):
            services.checklist_item_set_state(
                incident_id=incident.pk, item_id=item.pk, user=responder, state="done", from_state="pending"
            )
        assert _reasons(manager_client.get("/").text, incident) == []


def test_an_unacknowledged_notification_needs_attention_after_its_timeout(
    procedures: list[Runbook], responder: User, manager_client: Client
) -> None:
    declared = timezone.now()
    incident = _declare_at(declared, responder, "sev2", "Waiting for the DBA")
    with time_machine.travel(declared, tick=False):
        for item in incident.checklist.filter(phase="initial_response"):
            services.checklist_item_set_state(
                incident_id=incident.pk, item_id=item.pk, user=responder, state="done", from_state="pending"
            )
        first = services.notification_record(incident_id=incident.pk, user=responder, method="phone", recipient="Dee")
        services.notification_record(incident_id=incident.pk, user=responder, method="sms", recipient="Sam")

    with time_machine.travel(declared + timedelta(minutes=14), tick=False):
        assert _reasons(manager_client.get("/").text, incident) == []
    with time_machine.travel(declared + timedelta(minutes=16), tick=False):
        assert _reasons(manager_client.get("/").text, incident) == ["2 notifications not acknowledged in time"]
        detail = manager_client.get(reverse("incidents:detail", args=[incident.pk])).text
        assert '<span class="overdue">not yet</span>' in detail
        services.notification_acknowledge(incident_id=incident.pk, entry_id=first.pk, user=responder)
        assert _reasons(manager_client.get("/").text, incident) == ["1 notification not acknowledged in time"]


def test_a_resolved_incident_needs_no_attention(
    procedures: list[Runbook], responder: User, manager_client: Client
) -> None:
    declared = timezone.now() - timedelta(hours=2)
    incident = _declare_at(declared, responder, "sev2", "Done with it")
    services.incident_update(
        incident_id=incident.pk, user=responder, changes=[FieldChange("commander", responder, None)]
    )
    _move(incident, responder, declared + timedelta(hours=1), "resolved")

    page = manager_client.get("/").text

    assert _reasons(page, incident) == []
    assert _sections(page) == ([], [incident.pk])
