"""Update templates, filled from a real incident: scenario, impact, components and what the
timeline says was done."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.comms.models import Component, ComponentState
from apps.comms.prefill import prefill
from apps.incidents import services
from apps.incidents.models import ChecklistItem, Incident
from tests.comms.conftest import HTMX, compose_url, post

pytestmark = pytest.mark.django_db
State = ComponentState


def _tick_first_steps(incident: Incident, user: User, count: int) -> list[str]:
    items = list(incident.checklist.order_by("position")[:count])
    for item in items:
        services.checklist_item_set_state(
            incident_id=incident.pk, item_id=item.pk, user=user, state=ChecklistItem.State.DONE, from_state="pending"
        )
    return [item.title for item in items]


def test_the_public_investigating_template_uses_scenario_impact_and_components(
    incident: Incident, components: dict[str, Component]
) -> None:
    filled = prefill(incident, status="investigating", audience="public", components=list(components.values()))

    assert filled.title == "Slow or failing requests"
    assert filled.body.startswith("We are investigating slow or failing requests affecting Application and Database.")
    assert "Customers cannot save or open their records." in filled.body
    assert "We will post another update within 30 minutes." in filled.body  # SEV1 cadence
    # The incident's "affected components" names the database and the application: SEV1 → major outage.
    assert filled.component_states == {
        components["Application"].pk: State.MAJOR_OUTAGE,
        components["Database"].pk: State.MAJOR_OUTAGE,
    }
    # Nothing internal: no host name, no internal title, no people.
    assert "db-prod-7" not in filled.body + filled.title
    assert "refuses connections" not in filled.body


def test_the_identified_template_lists_the_steps_the_timeline_records_as_done(
    incident_with_checklist: Incident, responder: User, components: dict[str, Component]
) -> None:
    done = _tick_first_steps(incident_with_checklist, responder, 2)
    filled = prefill(
        incident_with_checklist, status="identified", audience="public", components=list(components.values())
    )
    assert "We have identified the cause of slow or failing requests" in filled.body
    assert "What we have done so far:\n" + "\n".join(f"- {title}" for title in done) in filled.body


def test_later_templates_start_from_what_was_published(
    comms: User, incident: Incident, components: dict[str, Component]
) -> None:
    post(comms, incident, components, title="Records cannot be saved", states={"Database": State.PARTIAL_OUTAGE})
    monitoring = prefill(incident, status="monitoring", audience="public", components=list(components.values()))
    assert monitoring.title == "Records cannot be saved"
    assert monitoring.component_states == {components["Database"].pk: State.PARTIAL_OUTAGE}
    assert monitoring.body.startswith("A fix for slow or failing requests affecting Database is in place")

    resolved = prefill(incident, status="resolved", audience="public", components=list(components.values()))
    assert resolved.component_states == {components["Database"].pk: State.OPERATIONAL}
    assert (
        resolved.body
        == "This incident has been resolved. Database is working normally again. Thank you for your patience."
    )


def test_the_internal_template_carries_roles_and_the_timeline(
    incident_with_checklist: Incident, responder: User, components: dict[str, Component]
) -> None:
    _tick_first_steps(incident_with_checklist, responder, 1)
    services.note_add(incident_id=incident_with_checklist.pk, user=responder, body="Replica lag is 4 minutes")
    filled = prefill(
        incident_with_checklist, status="identified", audience="internal", components=list(components.values())
    )
    assert filled.body.startswith("**Identified** · SEV1 Database Failure · incident status investigating")
    assert "- Incident commander: Riley Responder" in filled.body
    assert "- Communication coordinator: Cora Coordinator" in filled.body
    assert "- Affected components: Database on db-prod-7, and the application with it" in filled.body
    assert "Note: Replica lag is 4 minutes" in filled.body
    assert "**Impact:** Customers cannot save or open their records." in filled.body


def test_the_composer_page_is_filled_from_the_chosen_template(
    coordinator_client: Client, incident: Incident, components: dict[str, Component]
) -> None:
    response = coordinator_client.get(compose_url(incident), {"audience": "public", "status": "investigating"})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["audience"] == "public"
    assert form.initial["title"] == "Slow or failing requests"
    assert form.initial[f"component_{components['Database'].code}"] == State.MAJOR_OUTAGE
    html = response.content.decode()
    assert "We are investigating slow or failing requests" in html
    assert 'value="major_outage" selected' in html


def test_choosing_a_template_with_htmx_swaps_only_the_composer(coordinator_client: Client, incident: Incident) -> None:
    response = coordinator_client.get(compose_url(incident), {"audience": "internal", "status": "monitoring"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="comms-compose-form"' in html
    assert "**Monitoring** · SEV1" in html
    assert 'id="comms-updates"' not in html  # the list of updates is left as it is


def test_the_incident_page_offers_the_template_links_without_javascript(
    coordinator_client: Client, incident: Incident
) -> None:
    html = coordinator_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert f'href="{compose_url(incident)}?audience=public&amp;status=resolved"' in html
