"""The words of the events comms records, rendered when read: the sentences the timeline showed
before it was typed, the due time in the reader's zone, and a link to the update itself."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.comms.models import Component
from apps.incidents.events import kinds_without_renderer, links, render
from apps.incidents.models import Component as Actor
from apps.incidents.models import EventKind, Incident, TimelineEvent
from tests.comms.conftest import post

DUE = "2026-03-04T10:30:00+00:00"


def _event(kind: EventKind, data: dict[str, Any], **refs: Any) -> TimelineEvent:
    return TimelineEvent(incident_id=7, kind=kind, component=Actor.SYSTEM, data=data, **refs)


def test_every_kind_comms_records_has_words() -> None:
    missing = kinds_without_renderer()
    assert EventKind.UPDATE_POSTED not in missing
    assert EventKind.UPDATE_OVERDUE not in missing


def test_a_public_update_reads_with_its_status_and_public_name() -> None:
    event = _event(
        EventKind.UPDATE_POSTED,
        {"audience": "public", "status": "investigating", "title": "Slow or failing requests", "correction": False},
    )
    assert render(event) == "Public update posted: Investigating — “Slow or failing requests”"


def test_an_internal_update_reads_without_a_name() -> None:
    event = _event(EventKind.UPDATE_POSTED, {"audience": "internal", "status": "monitoring", "correction": False})
    assert render(event) == "Internal update posted: Monitoring"


def test_a_correction_says_so() -> None:
    event = _event(
        EventKind.UPDATE_POSTED,
        {"audience": "public", "status": "identified", "title": "Orders cannot be placed", "correction": True},
    )
    assert render(event) == "Public update posted: Identified — “Orders cannot be placed” (a correction)"


@pytest.mark.parametrize(
    ("reminded", "words"),
    [
        (
            {"id": 3, "name": "Cora Coordinator", "role": "coordinator"},
            "Stakeholder update overdue (due 10:30 UTC); coordinator Cora Coordinator reminded",
        ),
        (
            {"id": 2, "name": "Riley Responder", "role": "commander"},
            "Stakeholder update overdue (due 10:30 UTC); no coordinator: commander Riley Responder reminded",
        ),
        (None, "Stakeholder update overdue (due 10:30 UTC); nobody to remind: choose a communication coordinator"),
    ],
)
def test_an_overdue_update_says_who_was_reminded(reminded: dict[str, Any] | None, words: str) -> None:
    event = _event(EventKind.UPDATE_OVERDUE, {"due_at": DUE, "reminded": reminded})
    with timezone.override("UTC"):
        assert render(event) == words


def test_the_due_time_is_shown_in_the_readers_zone() -> None:
    event = _event(EventKind.UPDATE_OVERDUE, {"due_at": DUE, "reminded": None})
    with timezone.override("Europe/Paris"):
        assert render(event).startswith("Stakeholder update overdue (due 11:30 CET); ")


def test_an_update_links_to_its_place_on_the_incident_page() -> None:
    event = _event(
        EventKind.UPDATE_POSTED, {"audience": "internal", "status": "identified", "correction": False}, update_id=42
    )
    assert links(event) == [("update", reverse("incidents:detail", args=[7]) + "#update-42")]


@pytest.mark.django_db
def test_the_incident_page_shows_the_update_event_and_links_to_the_update(
    comms: User, responder_client: Client, incident: Incident, components: dict[str, Component]
) -> None:
    update = post(comms, incident, components, title="Slow or failing requests")

    page = responder_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()

    assert "Public update posted: Investigating — “Slow or failing requests”" in page
    assert f'href="{reverse("incidents:detail", args=[incident.pk])}#update-{update.pk}"' in page
    assert f'id="update-{update.pk}"' in page
