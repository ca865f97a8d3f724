"""The words of the events `incidents` records, rendered when read from kind, references and data
(`apps/incidents/renderers.py`): the same words the timeline showed when it stored sentences."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.incidents import events, selectors, services
from apps.incidents.models import Component, EventKind, Incident, TimelineEvent
from apps.incidents.services import FieldChange
from tests.factories import make_run

Kind = EventKind

INCIDENT_KINDS = [
    Kind.DECLARED,
    Kind.STATUS_CHANGED,
    Kind.SEVERITY_CHANGED,
    Kind.ROLE_ASSIGNED,
    Kind.DETAILS_CHANGED,
    Kind.STEP_DONE,
    Kind.STEP_SKIPPED,
    Kind.STEP_REOPENED,
    Kind.NOTE_ADDED,
    Kind.NOTIFICATION_RECORDED,
    Kind.NOTIFICATION_ACKNOWLEDGED,
]


def _words(kind: str, data: dict[str, Any] | None = None, **fields: Any) -> str:
    """An event as the timeline would read it (never saved: renderers read no database)."""
    return events.render(TimelineEvent(kind=kind, data=data or {}, component=Component.SYSTEM, **fields))


@pytest.mark.parametrize("kind", INCIDENT_KINDS)
def test_every_incidents_kind_has_a_renderer(kind: str) -> None:
    assert kind not in events.kinds_without_renderer()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            {"severity": "sev1", "scenario": "security_breach", "title": "Leaked keys", "via": ""},
            "Declared SEV1 Security Breach: Leaked keys",
        ),
        (
            {"severity": "sev2", "scenario": "database_failure", "title": "db-1 down", "via": "Alertmanager"},
            "Declared SEV2 Database Failure: db-1 down (by Alertmanager)",
        ),
    ],
    ids=["by-a-person", "via-an-alert"],
)
def test_declared(data: dict[str, str], words: str) -> None:
    assert _words(Kind.DECLARED, data) == words


@pytest.mark.parametrize(
    ("moved", "words"),
    [
        (("investigating", "mitigating"), "Status: Investigating → Mitigating"),
        (("monitoring", "resolved"), "Status: Monitoring → Resolved"),
        (("resolved", "investigating"), "Status: Resolved → Investigating"),
        (("resolved", "closed"), "Status: Resolved → Closed"),
    ],
)
def test_status_changed(moved: tuple[str, str], words: str) -> None:
    assert _words(Kind.STATUS_CHANGED, {"from": moved[0], "to": moved[1]}) == words


def test_severity_changed() -> None:
    assert _words(Kind.SEVERITY_CHANGED, {"from": "sev2", "to": "sev1"}) == "Severity: SEV2 → SEV1"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"role": "commander", "user": 7, "name": "Sam Second"}, "Commander: Sam Second"),
        ({"role": "coordinator", "user": 7, "name": "Sam Second"}, "Communication coordinator: Sam Second"),
        ({"role": "commander", "user": None, "name": ""}, "Commander: nobody"),
        ({"role": "coordinator", "user": None, "name": ""}, "Communication coordinator: nobody"),
    ],
)
def test_role_assigned(data: dict[str, Any], words: str) -> None:
    assert _words(Kind.ROLE_ASSIGNED, data) == words


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("title", "Replica lag", "Title: Replica lag"),
        ("channel_url", "https://chat.example.com/inc", "Communication channel: https://chat.example.com/inc"),
        ("channel_url", "", "Communication channel: removed"),
        ("affected_components", "db-1, db-2", "Affected components updated: db-1, db-2"),
        ("impact", "Checkout is down", "Impact updated: Checkout is down"),
        ("impact", "", "Impact updated: cleared"),
        ("impact", "x" * 4000, "Impact updated: " + "x" * 300),
    ],
)
def test_details_changed(field: str, value: str, words: str) -> None:
    assert _words(Kind.DETAILS_CHANGED, {"field": field, "value": value}) == words


@pytest.mark.parametrize(
    ("zone", "words"),
    [
        ("UTC", "Noticed at: 2025-03-04 15:30 UTC"),
        ("America/New_York", "Noticed at: 2025-03-04 10:30 EST"),
        ("Asia/Kolkata", "Noticed at: 2025-03-04 21:00 IST"),
    ],
)
def test_noticed_at_is_shown_in_the_viewers_time_zone(zone: str, words: str) -> None:
    data = {"field": "noticed_at", "value": "2025-03-04T15:30:00+00:00"}

    with timezone.override(zone):
        assert _words(Kind.DETAILS_CHANGED, data) == words


@pytest.mark.parametrize(
    ("data", "run_id", "words"),
    [
        ({"title": "Assess the situation"}, None, "Done: Assess the situation"),
        (
            {"title": "Restart database service", "verified": True},
            12,
            "Done: Restart database service (verified by run #12)",
        ),
        # A run that did not verify its work is no proof: the words do not claim it.
        ({"title": "Restart database service"}, 12, "Done: Restart database service"),
    ],
    ids=["by-hand", "verified-by-run", "run-not-verified"],
)
def test_step_done(data: dict[str, Any], run_id: int | None, words: str) -> None:
    assert _words(Kind.STEP_DONE, data, run_id=run_id) == words


def test_step_skipped_and_reopened() -> None:
    skipped = {"title": "Assess the situation", "reason": "Already assessed on the call"}

    assert _words(Kind.STEP_SKIPPED, skipped) == "Skipped: Assess the situation — Already assessed on the call"
    assert _words(Kind.STEP_REOPENED, {"title": "Assess the situation"}) == "Reopened step: Assess the situation"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("Status page updated\n\nSee **#inc-42**", "Note: Status page updated"),
        ("Failover started\r\nby Sam", "Note: Failover started"),
        ("y" * 500, "Note: " + "y" * 200),
    ],
)
def test_note_added_shows_its_first_line(body: str, words: str) -> None:
    assert _words(Kind.NOTE_ADDED, body=body) == words


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            {"recipient": "Pat Planner (Project Manager)", "method": "phone", "note": ""},
            "Notified Pat Planner (Project Manager) by phone call",
        ),
        (
            {"recipient": "Dee DBA", "method": "sms", "note": "Left a voicemail too"},
            "Notified Dee DBA by sms: Left a voicemail too",
        ),
        ({"recipient": "Jo", "method": "in_person", "note": ""}, "Notified Jo by in person"),
    ],
)
def test_notification_recorded(data: dict[str, str], words: str) -> None:
    assert _words(Kind.NOTIFICATION_RECORDED, data) == words


def test_notification_acknowledged() -> None:
    data = {"recipient": "Pat Planner (Project Manager)"}

    assert _words(Kind.NOTIFICATION_ACKNOWLEDGED, data) == "Pat Planner (Project Manager) acknowledged"


@pytest.mark.parametrize(
    ("kind", "data", "words"),
    [
        (
            Kind.DECLARED,
            {"severity": "sev0", "scenario": "alien_invasion", "title": "Odd", "via": ""},
            "Declared sev0 alien_invasion: Odd",
        ),
        (Kind.STATUS_CHANGED, {"from": "investigating", "to": "panicking"}, "Status: Investigating → panicking"),
        (Kind.SEVERITY_CHANGED, {"from": "sev2", "to": "sev9"}, "Severity: SEV2 → sev9"),
        (Kind.NOTIFICATION_RECORDED, {"recipient": "Jo", "method": "pigeon"}, "Notified Jo by pigeon"),
    ],
)
def test_a_value_no_longer_among_the_choices_is_shown_as_stored(kind: str, data: dict[str, str], words: str) -> None:
    """Events outlive the choices of their day: a renamed or removed choice never breaks the timeline."""
    assert _words(kind, data) == words


def test_a_legacy_event_shows_its_old_words() -> None:
    assert _words(Kind.LEGACY, legacy_text="Called the hosting desk") == "Called the hosting desk"


def test_the_actor_is_the_person_or_else_the_component(responder: User) -> None:
    assert TimelineEvent(kind=Kind.NOTE_ADDED, actor=responder).actor_name == "Riley Responder"
    assert TimelineEvent(kind=Kind.STEP_DONE, component=Component.WORKER).actor_name == "Host worker"
    assert TimelineEvent(kind=Kind.DECLARED, component=Component.WEBHOOK).actor_name == "Alertmanager webhook"


def test_the_page_shows_the_rendered_words(
    incident: Incident, responder: User, second_responder: User, responder_client: Any
) -> None:
    services.incident_update(
        incident_id=incident.pk,
        user=responder,
        changes=[FieldChange("commander", responder, None), FieldChange("severity", "sev2", "sev1")],
    )
    services.incident_change_status(
        incident_id=incident.pk, user=second_responder, from_status="investigating", to_status="identified"
    )

    page = responder_client.get(f"/incidents/{incident.pk}/").text

    for words in [
        "Declared SEV2 Database Failure: Primary database down",
        "Commander: nobody",
        "Severity: SEV2 → SEV1",
        "Status: Investigating → Identified",
    ]:
        assert words in page, words
    assert 'data-event-kind="status_changed"' in page


def test_rendering_the_timeline_reads_nothing_more_from_the_database(
    incident: Incident, responder: User, second_responder: User, django_assert_num_queries: Any
) -> None:
    """Words, actors and links come from the one timeline query, whatever the events refer to."""
    item = incident.checklist.get(title="Restart database service")
    run = make_run(incident, responder, item=item)
    services.checklist_item_complete_by_run(incident_id=incident.pk, item_id=item.pk, user=responder, run_id=run.pk)
    services.checklist_item_complete_by_run(
        incident_id=incident.pk,
        item_id=incident.checklist.get(title="Check database logs").pk,
        user=None,
        run_id=make_run(incident, second_responder, host_name="db-2").pk,
    )
    entry = services.notification_record(incident_id=incident.pk, user=second_responder, method="sms", recipient="Dee")
    services.notification_acknowledge(incident_id=incident.pk, entry_id=entry.pk, user=responder)
    services.note_add(incident_id=incident.pk, user=second_responder, body="On it")

    with django_assert_num_queries(1):
        timeline = selectors.timeline(incident)
        shown = [(event.text, event.actor_name, event.links) for event in timeline]

    assert len(shown) == 6
    assert shown[-2][:2] == (f"Done: Restart database service (verified by run #{run.pk})", "Riley Responder")
    assert shown[-3][:2] == (f"Done: Check database logs (verified by run #{run.pk + 1})", "Host worker")
