"""The Django admin shows incidents, their timeline events and notification log, and changes none
of them: every change goes through the services, which record the events."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.incidents import services
from apps.incidents.models import EventKind, Incident, NotificationEntry, TimelineEvent
from tests.incidents.conftest import snapshot

MODELS = ["incident", "timelineevent", "notificationentry"]


@pytest.fixture
def history(incident: Incident, responder: User) -> dict[str, int]:
    """One of each: the incident, its DECLARED event, a notification."""
    declared = incident.events.get(kind=EventKind.DECLARED)
    entry = services.notification_record(incident_id=incident.pk, user=responder, method="phone", recipient="Dee DBA")
    return {"incident": incident.pk, "timelineevent": declared.pk, "notificationentry": entry.pk}


def _url(model: str, view: str, pk: int | None = None) -> str:
    return reverse(f"admin:incidents_{model}_{view}", args=[] if pk is None else [pk])


@pytest.mark.parametrize("model", MODELS)
def test_the_admin_lists_them(admin_client_: Client, history: dict[str, int], model: str) -> None:
    response = admin_client_.get(_url(model, "changelist"))

    assert response.status_code == 200
    text = response.text
    expected = {"incident": "Primary database down", "timelineevent": "Declared SEV2", "notificationentry": "Dee DBA"}
    assert expected[model] in text
    assert _url(model, "add") not in text
    assert "delete_selected" not in text


@pytest.mark.parametrize("model", MODELS)
def test_the_admin_cannot_add_them(admin_client_: Client, history: dict[str, int], model: str) -> None:
    before = snapshot()

    assert admin_client_.get(_url(model, "add")).status_code == 403
    assert admin_client_.post(_url(model, "add"), {"title": "Sneaky", "kind": "note_added"}).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("model", MODELS)
def test_the_admin_change_form_is_read_only(admin_client_: Client, history: dict[str, int], model: str) -> None:
    response = admin_client_.get(_url(model, "change", history[model]))

    assert response.status_code == 200
    text = response.text
    assert 'name="_save"' not in text
    assert 'name="_continue"' not in text
    assert '<div class="readonly">' in text
    assert _url(model, "delete", history[model]) not in text


def test_the_incident_change_form_shows_its_checklist_read_only(admin_client_: Client, history: dict[str, int]) -> None:
    text = admin_client_.get(_url("incident", "change", history["incident"])).text

    assert "Assess the situation" in text
    assert 'name="checklist-0-state"' not in text
    assert 'name="checklist-0-title"' not in text
    assert 'name="checklist-0-DELETE"' not in text
    assert 'name="checklist-MAX_NUM_FORMS" value="0"' in text


@pytest.mark.parametrize("model", MODELS)
def test_posting_the_admin_change_form_changes_nothing(
    admin_client_: Client, history: dict[str, int], model: str
) -> None:
    before = snapshot()

    response = admin_client_.post(
        _url(model, "change", history[model]),
        {"title": "Rewritten", "status": "closed", "kind": "legacy", "body": "Rewritten", "recipient": "Someone else"},
    )

    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("model", MODELS)
def test_the_admin_cannot_delete_them(admin_client_: Client, history: dict[str, int], model: str) -> None:
    before = snapshot()

    assert admin_client_.get(_url(model, "delete", history[model])).status_code == 403
    assert admin_client_.post(_url(model, "delete", history[model]), {"post": "yes"}).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("model", MODELS)
def test_the_delete_action_is_not_offered(admin_client_: Client, history: dict[str, int], model: str) -> None:
    before = snapshot()

    response = admin_client_.post(
        _url(model, "changelist"),
        {"action": "delete_selected", "_selected_action": [history[model]], "post": "yes"},
        follow=True,
    )

    assert response.status_code == 200
    assert snapshot() == before
    assert Incident.objects.filter(pk=history["incident"]).exists()
    assert TimelineEvent.objects.filter(pk=history["timelineevent"]).exists()
    assert NotificationEntry.objects.filter(pk=history["notificationentry"]).exists()


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_do_not_reach_the_admin(
    request: pytest.FixtureRequest, history: dict[str, int], client_name: str
) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.get(_url("incident", "changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
