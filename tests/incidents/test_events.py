"""Writing the record: `event_record` (apps/incidents/events.py) and what the database itself
insists on (every event has an actor; a rolled-back change leaves no event and tells no page)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, transaction

from apps.accounts.models import User
from apps.incidents import events, services
from apps.incidents.events import event_record
from apps.incidents.models import Component, EventKind, Incident, TimelineEvent
from apps.runbooks.models import Runbook
from tests.factories import make_run

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


class Boom(Exception):
    """Whatever made the surrounding change fail."""


def test_an_event_keeps_its_kind_actor_references_and_data(incident: Incident, responder: User) -> None:
    item = incident.checklist.get(title="Restart database service")
    run = make_run(incident, responder, item=item)

    with time_machine.travel(NOW, tick=False):
        event = event_record(
            incident_id=incident.pk,
            kind=EventKind.STEP_DONE,
            actor=responder,
            item=item,
            run=run.pk,
            data={"title": item.title, "verified": True},
        )

    event = TimelineEvent.objects.get(pk=event.pk)
    assert (event.incident, event.kind, event.at, event.actor, event.component) == (
        incident,
        EventKind.STEP_DONE,
        NOW,
        responder,
        "",
    )
    assert (event.item, event.run) == (item, run)
    assert event.data == {"title": "Restart database service", "verified": True}
    assert events.refs_of(event) == {"run": run.pk, "item": item.pk}


@pytest.mark.parametrize(
    ("component", "expected"),
    [("", Component.SYSTEM), (Component.ESCALATION, Component.ESCALATION), (Component.WORKER, Component.WORKER)],
)
def test_an_event_without_a_person_names_the_component_that_acted(
    incident: Incident, component: str, expected: str
) -> None:
    event = event_record(
        incident_id=incident.pk, kind=EventKind.STATUS_CHANGED, component=component, data={"from": "a", "to": "b"}
    )

    event.refresh_from_db()
    assert (event.actor, event.component) == (None, expected)


def test_a_person_who_acted_is_the_actor_whatever_component_is_named(incident: Incident, responder: User) -> None:
    event = event_record(incident_id=incident.pk, kind=EventKind.NOTE_ADDED, actor=responder, component="worker")

    event.refresh_from_db()
    assert (event.actor, event.component) == (responder, "")


@pytest.mark.parametrize("refs", [{"runn": 1}, {"incident": 1}, {"user": 1, "run": None}, {"summary": "x"}])
def test_unknown_references_are_refused(incident: Incident, responder: User, refs: dict[str, Any]) -> None:
    before = incident.events.count()

    with pytest.raises(TypeError, match="unknown event references"):
        event_record(incident_id=incident.pk, kind=EventKind.NOTE_ADDED, actor=responder, **refs)

    assert incident.events.count() == before


@pytest.mark.parametrize("kind", [EventKind.LEGACY, "legacy", "note", "status", "something_else"])
def test_the_legacy_kind_and_unknown_kinds_cannot_be_recorded(incident: Incident, responder: User, kind: Any) -> None:
    """Only rows carried over from the text timeline are `legacy`; new history is always typed."""
    before = incident.events.count()

    with pytest.raises(ValueError, match="not an event kind that can be recorded"):
        event_record(incident_id=incident.pk, kind=kind, actor=responder)

    assert incident.events.count() == before


def test_every_reference_event_record_accepts_is_a_foreign_key() -> None:
    for ref in TimelineEvent.REFS:
        field = TimelineEvent._meta.get_field(ref)
        assert field.many_to_one, ref
        assert field.null, ref


def test_the_database_refuses_an_event_with_neither_actor_nor_component(incident: Incident) -> None:
    before = incident.events.count()

    with pytest.raises(IntegrityError, match="event_has_actor"), transaction.atomic():
        TimelineEvent.objects.create(incident=incident, kind=EventKind.NOTE_ADDED, actor=None, component="", body="?")

    assert incident.events.count() == before


@pytest.mark.django_db(transaction=True)
def test_an_event_is_announced_once_its_transaction_commits(
    incident: Incident, responder: User, django_capture_on_commit_callbacks: Any
) -> None:
    # Real commits: the incident's own declaration was announced when it committed, so what is
    # captured here is this change's announcement (one per transaction and topic).
    with transaction.atomic(), django_capture_on_commit_callbacks() as callbacks:
        event_record(incident_id=incident.pk, kind=EventKind.NOTE_ADDED, actor=responder, body="Committed")

    assert callbacks  # the open pages are told, after commit (how is the live path's business)
    assert incident.events.filter(body="Committed").exists()


def test_an_event_recorded_in_a_change_that_rolls_back_leaves_nothing_and_announces_nothing(
    incident: Incident, responder: User, django_capture_on_commit_callbacks: Any
) -> None:
    before = list(TimelineEvent.objects.values_list("pk", flat=True))

    with django_capture_on_commit_callbacks() as callbacks, contextlib.suppress(Boom), transaction.atomic():
        event_record(incident_id=incident.pk, kind=EventKind.NOTE_ADDED, actor=responder, body="Never happened")
        raise Boom

    assert callbacks == []
    assert list(TimelineEvent.objects.values_list("pk", flat=True)) == before
    assert not TimelineEvent.objects.filter(body="Never happened").exists()


@pytest.mark.django_db(transaction=True)
def test_a_declaration_that_rolls_back_leaves_no_incident_and_no_event(
    procedures: list[Runbook], responder: User
) -> None:
    """With real commits: the event is part of its change's transaction, never written on its own."""
    with contextlib.suppress(Boom), transaction.atomic():
        incident = services.incident_declare(
            declared_by=responder, title="Rolled back", scenario="system_outage", severity="sev3"
        )
        services.note_add(incident_id=incident.pk, user=responder, body="Also rolled back")
        assert incident.events.count() == 2
        raise Boom

    assert not Incident.objects.filter(title="Rolled back").exists()
    assert not TimelineEvent.objects.exists()
