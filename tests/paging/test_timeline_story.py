"""One incident's whole story in its exported timeline: declared, paged, acknowledged, a step
ticked, an action run, a stakeholder update posted — each a typed event with its references."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.test import Client

from apps.accounts.models import User
from apps.comms.services.updates import Draft, update_post
from apps.health.models import Host
from apps.incidents.models import ChecklistItem, Incident
from apps.incidents.services import checklist_item_set_state
from apps.paging.models import Page
from apps.paging.services.responses import escalation_acknowledge
from tests.paging.conftest import People, fire
from tests.remediation.conftest import execute, request_run


def _events_by_kind(export: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event in export["events"]:
        found.setdefault(event["kind"], []).append(event)
    return found


def test_the_exported_timeline_tells_the_whole_story_as_typed_events(
    declare: Callable[..., Incident],
    people: People,
    responder: User,
    comms: User,
    responder_client: Client,
) -> None:
    incident = declare(responder, title="Orders database down")
    fire(incident)  # the first escalation step pages the first contact
    page = Page.objects.filter(escalation__incident=incident, state=Page.State.SENT).first()
    assert page is not None
    escalation_acknowledge(incident_id=incident.pk, via="web", user=responder, page=page)
    item = incident.checklist.order_by("position").first()
    assert item is not None
    checklist_item_set_state(
        incident_id=incident.pk, item_id=item.pk, user=responder, state=ChecklistItem.State.DONE, from_state="pending"
    )
    host = Host.objects.create(name=settings.INCIDENTCENTER_HOST, description="This machine")
    run = execute(
        request_run(responder, "maintenance_mode", {"mode": "on", "message": "Back soon"}, host=host, incident=incident)
    )
    update = update_post(
        incident_id=incident.pk,
        author=comms,
        draft=Draft(audience="internal", status="investigating", body="We are restoring the database."),
    )

    response = responder_client.get(f"/incidents/{incident.pk}/timeline.json")

    assert response.status_code == 200
    export = response.json()
    assert export["incident"]["id"] == incident.pk
    assert export["incident"]["reference"] == incident.reference
    times = [event["at"] for event in export["events"]]
    assert times == sorted(times)
    by_kind = _events_by_kind(export)
    declared = by_kind["declared"][0]
    assert declared["actor"] == {"type": "user", "name": responder.display_name, "id": responder.pk}
    assert declared["data"]["title"] == "Orders database down"
    assert by_kind["paging_started"][0]["actor"]["type"] == "system"
    assert page.pk in [event["refs"].get("page") for event in by_kind["page_sent"]]
    acknowledged = by_kind["acknowledged"][0]
    assert (acknowledged["refs"].get("page"), acknowledged["actor"]["id"]) == (page.pk, responder.pk)
    assert by_kind["step_done"][0]["refs"]["item"] == item.pk
    run_kinds = [kind for kind, found in by_kind.items() for event in found if event["refs"].get("run") == run.pk]
    assert {"run_requested", "run_started", "run_finished"} <= set(run_kinds)
    finished = next(e for e in by_kind["run_finished"] if e["refs"]["run"] == run.pk)
    assert finished["data"]["state"] == "succeeded"
    assert by_kind["update_posted"][0]["refs"]["update"] == update.pk
    assert by_kind["update_posted"][0]["actor"]["id"] == comms.pk
    assert all(event["text"] for event in export["events"])
