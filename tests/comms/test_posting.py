"""Posting stakeholder updates: who may, what a post changes, what is refused."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.comms.models import (
    Component,
    ComponentOutage,
    ComponentState,
    Delivery,
    Notice,
    PublicIncident,
    Update,
    UpdateComponent,
)
from apps.health.models import Host
from apps.incidents.models import EventKind, Incident, TimelineEvent
from tests.comms.conftest import HTMX, compose_url, form_data, make_subscriber, post

State = ComponentState
pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("who", ["responder", "manager"])
def test_others_than_comms_and_the_coordinator_get_403(
    request: pytest.FixtureRequest, who: str, incident: Incident, components: dict[str, Component]
) -> None:
    client = _client(request.getfixturevalue(who))
    assert client.get(compose_url(incident)).status_code == 403
    response = client.post(compose_url(incident), form_data(components))
    assert response.status_code == 403
    assert client.post(reverse("comms:preview", args=[incident.pk]), form_data(components)).status_code == 403
    assert not Update.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(incident: Incident, components: dict[str, Component]) -> None:
    response = Client().post(compose_url(incident), form_data(components))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Update.objects.exists()


@pytest.mark.parametrize("who", ["comms", "coordinator", "admin_user"])
def test_comms_role_coordinator_and_admin_may_post(
    request: pytest.FixtureRequest, who: str, incident: Incident, components: dict[str, Component]
) -> None:
    user = request.getfixturevalue(who)
    response = _client(user).post(compose_url(incident), form_data(components, states={"Database": State.MAJOR_OUTAGE}))
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk]) + "#comms"
    update = Update.objects.get()
    assert (update.author, update.audience, update.status) == (user, "public", "investigating")


def test_a_coordinator_of_another_incident_may_not_post(
    incident: Incident, responder: User, coordinator: User, components: dict[str, Component]
) -> None:
    from tests.factories import declare_incident

    other = declare_incident(responder, title="Another one")
    assert _client(coordinator).post(compose_url(other), form_data(components)).status_code == 403


def test_a_public_update_publishes_the_incident_and_its_components(
    comms: User, incident: Incident, components: dict[str, Component]
) -> None:
    make_subscriber("all@example.org")
    make_subscriber("db@example.org", all_components=False, components=[components["Database"]])
    make_subscriber("web@example.org", all_components=False, components=[components["Website"]])
    make_subscriber("unconfirmed@example.org", confirmed=False)

    update = post(
        comms,
        incident,
        components,
        title="Slow or failing requests",
        states={"Database": State.MAJOR_OUTAGE, "Application": State.DEGRADED_PERFORMANCE},
    )

    public = PublicIncident.objects.get(incident=incident)
    assert (public.name, public.status, public.impact) == ("Slow or failing requests", "investigating", "critical")
    open_spans = dict(ComponentOutage.objects.filter(ended_at__isnull=True).values_list("component__name", "state"))
    assert open_spans == {"Database": "major_outage", "Application": "degraded_performance"}
    assert sorted(update.affected.values_list("component__name", "old_state", "new_state")) == [
        ("Application", "operational", "degraded_performance"),
        ("Database", "operational", "major_outage"),
    ]
    notice = Notice.objects.get(update=update)
    recipients = set(Delivery.objects.filter(notice=notice).values_list("subscriber__email", flat=True))
    assert recipients == {"all@example.org", "db@example.org"}
    event = incident.events.get(kind=EventKind.UPDATE_POSTED)
    assert (event.update, event.actor) == (update, comms)
    assert event.data == {
        "audience": "public",
        "status": "investigating",
        "title": "Slow or failing requests",
        "correction": False,
    }


def test_later_updates_move_components_and_resolved_returns_them(
    comms: User, incident: Incident, components: dict[str, Component]
) -> None:
    post(comms, incident, components, states={"Database": State.MAJOR_OUTAGE})
    post(comms, incident, components, status="identified", states={"Database": State.PARTIAL_OUTAGE})
    spans = list(ComponentOutage.objects.order_by("pk").values_list("state", "ended_at"))
    assert [state for state, _ in spans] == ["major_outage", "partial_outage"]
    assert spans[0][1] is not None
    assert spans[1][1] is None

    resolved = post(comms, incident, components, status="resolved", states={"Database": State.OPERATIONAL})

    assert not ComponentOutage.objects.filter(ended_at__isnull=True).exists()
    public = PublicIncident.objects.get()
    assert public.status == "resolved"
    assert public.resolved_at == resolved.created_at
    assert public.impact == "critical"  # the worst it reached


def test_an_internal_update_changes_nothing_public(
    comms: User, incident: Incident, components: dict[str, Component]
) -> None:
    make_subscriber("all@example.org")
    post(comms, incident, components, audience="internal", title="", states={"Database": State.MAJOR_OUTAGE})
    assert not PublicIncident.objects.exists()
    assert not ComponentOutage.objects.exists()
    assert not Notice.objects.exists()
    event = incident.events.get(kind=EventKind.UPDATE_POSTED)
    assert event.data == {"audience": "internal", "status": "investigating", "correction": False}


def test_responders_and_managers_read_internal_updates_on_the_incident_page(
    comms: User, responder_client: Client, manager_client: Client, incident: Incident
) -> None:
    post(comms, incident, audience="internal", title="", body="Failover to the replica **started**.")
    for client in (responder_client, manager_client):
        page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
        assert "Failover to the replica <strong>started</strong>." in page
        assert 'id="comms-compose' not in page  # reading, not writing


def test_the_coordinator_sees_the_composer_in_the_panel(coordinator_client: Client, incident: Incident) -> None:
    page = coordinator_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert 'id="comms-compose-box" class="compose" hx-preserve="true"' in page
    assert "Write an update" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"body": "  "}, "body", "This field is required."),
        ({"title": ""}, "title", "A public update needs the incident&#x27;s public name."),
        ({"body": "Hi <script>alert(1)</script>"}, "body", "Scripts are not allowed in updates."),
        ({"body": "[status](javascript:alert(1))"}, "body", "Links must be web (http, https), mail or phone links."),
        ({"status": "mitigating"}, "status", "Select a valid choice."),
        ({"audience": "everyone"}, "audience", "Select a valid choice."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    comms_client: Client,
    incident: Incident,
    components: dict[str, Component],
    change: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = comms_client.post(compose_url(incident), {**form_data(components), **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert field in response.context["form"].errors
    assert not Update.objects.exists()


def test_a_public_update_may_not_name_hosts_or_responders(
    comms_client: Client, incident: Incident, components: dict[str, Component]
) -> None:
    Host.objects.create(name="db-prod-7")
    body = "Riley Responder restarted PostgreSQL on db-prod-7."
    response = comms_client.post(compose_url(incident), form_data(components, body=body))
    assert response.status_code == 400
    assert "remove db-prod-7, Riley Responder" in response.content.decode()
    # The same words are fine inside.
    response = comms_client.post(compose_url(incident), form_data(components, audience="internal", body=body))
    assert response.status_code == 302


def test_a_resolved_update_may_not_leave_an_outage(
    comms_client: Client, incident: Incident, components: dict[str, Component]
) -> None:
    data = form_data(components, status="resolved", states={"Database": State.PARTIAL_OUTAGE})
    response = comms_client.post(compose_url(incident), data)
    assert response.status_code == 400
    assert "A resolved update returns its components to operational." in response.content.decode()


def test_a_correction_is_a_new_update_pointing_at_the_old_one(
    comms: User, comms_client: Client, incident: Incident, components: dict[str, Component]
) -> None:
    wrong = post(comms, incident, components, body="All data from yesterday is lost.")
    response = comms_client.post(
        compose_url(incident),
        form_data(components, audience="internal", body="Correction", corrects=str(wrong.pk)),
    )
    assert response.status_code == 400
    assert "A public update is corrected in public" in response.content.decode()

    response = comms_client.post(
        compose_url(incident), form_data(components, body="No data was lost.", corrects=str(wrong.pk))
    )
    assert response.status_code == 302
    correction = Update.objects.get(corrects=wrong)
    wrong.refresh_from_db()
    assert wrong.body == "All data from yesterday is lost."  # never edited
    status_page = Client().get(reverse("comms:status")).content.decode()
    assert "No data was lost." in status_page
    assert "corrects the update of" in status_page
    assert TimelineEvent.objects.filter(
        incident=incident, kind=EventKind.UPDATE_POSTED, update=correction, data__correction=True
    ).exists()


def test_updates_are_append_only(comms: User, incident: Incident) -> None:
    update = post(comms, incident)
    update.body = "rewritten"
    with pytest.raises(PermissionError):
        update.save()
    with pytest.raises(PermissionError):
        update.delete()
    with pytest.raises(PermissionError):
        Update.objects.filter(pk=update.pk).update(body="rewritten")
    if connection.vendor == "postgresql":
        refused = "Cannot update or delete rows from comms_update table"
        with pytest.raises(DatabaseError, match=refused), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE comms_update SET body = 'rewritten' WHERE id = %s", [update.pk])
        with pytest.raises(DatabaseError, match=refused), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM comms_update WHERE id = %s", [update.pk])


def test_the_components_an_update_named_are_append_only(
    comms: User, incident: Incident, components: dict[str, Component]
) -> None:
    update = post(comms, incident, components, states={"Database": State.MAJOR_OUTAGE})
    named = update.affected.get()
    named.new_state = State.OPERATIONAL
    with pytest.raises(PermissionError):
        named.save()
    with pytest.raises(PermissionError):
        named.delete()
    with pytest.raises(PermissionError):
        UpdateComponent.objects.filter(pk=named.pk).update(new_state=State.OPERATIONAL)
    if connection.vendor == "postgresql":
        refused = "Cannot update or delete rows from comms_updatecomponent table"
        with pytest.raises(DatabaseError, match=refused), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE comms_updatecomponent SET new_state = 'operational' WHERE id = %s", [named.pk])


def test_htmx_post_answers_a_fresh_composer_and_the_new_list(
    coordinator_client: Client, incident: Incident, components: dict[str, Component]
) -> None:
    response = coordinator_client.post(compose_url(incident), form_data(components, body="We are on it."), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<div id="comms-updates" hx-swap-oob="true">' in html
    assert "We are on it." in html
    assert 'id="comms-compose-form"' in html
    assert "Public update posted on the status page and mailed to subscribers." in html


def test_htmx_post_with_errors_answers_400_with_the_form(
    coordinator_client: Client, incident: Incident, components: dict[str, Component]
) -> None:
    response = coordinator_client.post(compose_url(incident), form_data(components, title=""), **HTMX)
    assert response.status_code == 400
    assert "A public update needs the incident" in response.content.decode()


def test_preview_shows_the_sanitised_body(
    coordinator_client: Client, incident: Incident, components: dict[str, Component]
) -> None:
    body = 'Read **this** <img src=x onerror="alert(1)"> and [more](https://example.org/x).'
    response = coordinator_client.post(
        reverse("comms:preview", args=[incident.pk]), form_data(components, body=body), **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>this</strong>" in html
    assert "onerror" not in html
    assert "<img" not in html
    assert 'href="https://example.org/x"' in html
    assert not Update.objects.exists()


def test_preview_without_javascript_rerenders_the_page(
    coordinator_client: Client, incident: Incident, components: dict[str, Component]
) -> None:
    response = coordinator_client.post(compose_url(incident), form_data(components, body="*Soon*", action="preview"))
    assert response.status_code == 200
    assert "<em>Soon</em>" in response.content.decode()
    assert not Update.objects.exists()
