"""The incident pages and forms: who may do what, what bad input gets back, what htmx gets back,
and that the page shows what the database holds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.incidents import services, urls
from apps.incidents.models import ChecklistItem, EventKind, Incident, NotificationEntry, TimelineEvent
from apps.runbooks.models import Runbook
from apps.runbooks.procedures import INITIAL_RESPONSE, POST_EMERGENCY, SCENARIOS
from tests.factories import declare_incident
from tests.incidents.conftest import HTMX, details_post, event_ids, form_on_page, new_events, snapshot

# The timeline exports have the incident page's permission (more in test_timeline_export.py).
GET_PAGES = ["board", "list", "detail", "timeline_json", "timeline_md"]
POSTS = ["declare", "status", "details", "checklist", "notification_add", "notification_ack", "note_add"]
WORKERS = ["responder_client", "admin_client_"]
WATCHERS = ["manager_client", "comms_client"]
MISSING = 987654


@dataclass
class World:
    incident: Incident
    item: ChecklistItem
    entry: NotificationEntry

    def url(self, name: str, pk: int | None = None) -> str:
        pk = self.incident.pk if pk is None else pk
        if name in {"board", "list", "declare"}:
            return reverse(f"incidents:{name}")
        if name == "checklist":
            return reverse("incidents:checklist", args=[pk, self.item.pk, "done"])
        if name == "notification_ack":
            return reverse("incidents:notification_ack", args=[pk, self.entry.pk])
        return reverse(f"incidents:{name}", args=[pk])

    def payload(self, name: str) -> dict[str, Any]:
        return {
            "declare": {"scenario": "system_outage", "severity": "sev3", "title": "API timeouts"},
            "status": {"from_status": "investigating", "to_status": "identified"},
            "details": details_post(self.incident, title="Primary DB refuses connections"),
            "checklist": {"from_state": "pending"},
            "notification_add": {"recipient": "Jo from hosting", "method": "phone"},
            "notification_ack": {},
            "note_add": {"body": "Failover started"},
        }[name]


@pytest.fixture
def world(incident: Incident, responder: User) -> World:
    entry = services.notification_record(incident_id=incident.pk, user=responder, method="sms", recipient="Dee DBA")
    return World(incident=incident, item=incident.checklist.order_by("position").first(), entry=entry)  # type: ignore[arg-type]


EVENT_OF = {
    "status": EventKind.STATUS_CHANGED,
    "details": EventKind.DETAILS_CHANGED,
    "checklist": EventKind.STEP_DONE,
    "notification_add": EventKind.NOTIFICATION_RECORDED,
    "notification_ack": EventKind.NOTIFICATION_ACKNOWLEDGED,
    "note_add": EventKind.NOTE_ADDED,
}


def _did(name: str, world: World, user: User) -> None:
    """Assert that the POST `name` by `user` did what it asks, and recorded it as its event."""
    incident = Incident.objects.get(pk=world.incident.pk)
    if name == "declare":
        declared = Incident.objects.exclude(pk=incident.pk).get()
        assert (declared.title, declared.declared_by, declared.commander) == ("API timeouts", user, user)
        assert declared.checklist.count() == 4 + len(SCENARIOS["system_outage"].steps) + 4
        assert declared.events.filter(kind=EventKind.DECLARED, actor=user).count() == 1
        return
    latest = incident.events.order_by("-pk").first()
    assert latest is not None
    assert (latest.kind, latest.actor) == (EVENT_OF[name], user)
    if name == "status":
        assert incident.status == "identified"
        assert latest.data == {"from": "investigating", "to": "identified"}
    elif name == "details":
        assert incident.title == "Primary DB refuses connections"
        assert latest.data == {"field": "title", "value": "Primary DB refuses connections"}
    elif name == "checklist":
        world.item.refresh_from_db()
        assert (world.item.state, world.item.completed_by) == ("done", user)
        assert latest.item == world.item
    elif name == "notification_add":
        entry = incident.notifications.get(recipient="Jo from hosting", recorded_by=user)
        assert latest.notification == entry
    elif name == "notification_ack":
        world.entry.refresh_from_db()
        assert world.entry.acknowledged_recorded_by == user
        assert latest.notification == world.entry
    elif name == "note_add":
        assert latest.body == "Failover started"


def test_every_incident_url_is_covered_here() -> None:
    assert {pattern.name for pattern in urls.urlpatterns} == {*GET_PAGES, *POSTS}


# --- who may do what ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*GET_PAGES, "declare"])
def test_anonymous_get_is_sent_to_login(anonymous_client: Client, world: World, name: str) -> None:
    url = world.url(name)

    response = anonymous_client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


@pytest.mark.parametrize("name", POSTS)
def test_anonymous_post_is_sent_to_login_and_writes_nothing(anonymous_client: Client, world: World, name: str) -> None:
    before = snapshot()

    response = anonymous_client.post(world.url(name), world.payload(name))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    assert snapshot() == before


@pytest.mark.parametrize("client_name", [*WATCHERS, *WORKERS])
@pytest.mark.parametrize("name", GET_PAGES)
def test_every_role_sees_the_pages(request: pytest.FixtureRequest, world: World, client_name: str, name: str) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.get(world.url(name))

    assert response.status_code == 200
    assert "Primary database down" in response.text


@pytest.mark.parametrize("client_name", WATCHERS)
def test_manager_and_comms_cannot_open_the_declare_form(request: pytest.FixtureRequest, client_name: str) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.get(reverse("incidents:declare"))

    assert response.status_code == 403
    assert "Your role does not allow this." in response.text


@pytest.mark.parametrize("client_name", WATCHERS)
@pytest.mark.parametrize("name", POSTS)
def test_manager_and_comms_cannot_change_anything(
    request: pytest.FixtureRequest, world: World, client_name: str, name: str
) -> None:
    client: Client = request.getfixturevalue(client_name)
    before = snapshot()

    response = client.post(world.url(name), world.payload(name))

    assert response.status_code == 403
    assert "Your role does not allow this." in response.text
    assert snapshot() == before


@pytest.mark.parametrize("client_name", WATCHERS)
@pytest.mark.parametrize("name", POSTS)
def test_manager_and_comms_cannot_change_anything_over_htmx(
    request: pytest.FixtureRequest, world: World, client_name: str, name: str
) -> None:
    client: Client = request.getfixturevalue(client_name)
    before = snapshot()

    response = client.post(world.url(name), world.payload(name), headers=HTMX)

    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("client_name", WORKERS)
@pytest.mark.parametrize("name", POSTS)
def test_responder_and_admin_can_change_things(
    request: pytest.FixtureRequest, world: World, client_name: str, name: str
) -> None:
    client: Client = request.getfixturevalue(client_name)
    user = User.objects.get(pk=int(client.session["_auth_user_id"]))

    response = client.post(world.url(name), world.payload(name))

    assert response.status_code == 302, response.text
    _did(name, world, user)
    target = Incident.objects.order_by("-pk").first() if name == "declare" else world.incident
    assert response["Location"] == reverse("incidents:detail", args=[target.pk])  # type: ignore[union-attr]
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("client_name", WORKERS)
def test_responder_and_admin_can_open_the_declare_form(request: pytest.FixtureRequest, client_name: str) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.get(reverse("incidents:declare"))

    assert response.status_code == 200
    assert "Scenario, severity and a title are enough." in response.text


@pytest.mark.parametrize("name", [*POSTS[1:]])
def test_post_only_urls_refuse_get(responder_client: Client, world: World, name: str) -> None:
    before = snapshot()

    assert responder_client.get(world.url(name)).status_code == 405
    assert snapshot() == before


# --- controls follow the role -----------------------------------------------------------------

CONTROLS = ["Mark done", "Skip step", 'name="to_status"', "Add note", "Record notification", "Save details"]


def test_managers_see_no_controls_on_the_incident_page(manager_client: Client, world: World) -> None:
    page = manager_client.get(world.url("detail")).text

    assert "Assess the situation" in page
    assert "Declare incident" not in page
    for control in CONTROLS:
        assert control not in page, control
    assert reverse("incidents:status", args=[world.incident.pk]) not in page
    assert reverse("incidents:notification_ack", args=[world.incident.pk, world.entry.pk]) not in page
    assert "/checklist/" not in page


def test_responders_see_the_controls_on_the_incident_page(responder_client: Client, world: World) -> None:
    page = responder_client.get(world.url("detail")).text

    assert "Declare incident" in page
    for control in CONTROLS:
        assert control in page, control
    for target in ["Identified", "Mitigating", "Monitoring", "Resolved"]:
        assert re.search(rf'<button type="submit" class="button[^"]*">{target}</button>', page), target
    assert reverse("incidents:notification_ack", args=[world.incident.pk, world.entry.pk]) in page


def test_managers_see_no_declare_link_on_the_board(manager_client: Client, db: None) -> None:
    page = manager_client.get(reverse("incidents:board")).text

    assert "No active incidents." in page
    assert "Declare" not in page
    assert reverse("incidents:declare") not in page


def test_responders_are_offered_to_declare_from_the_board(responder_client: Client, db: None) -> None:
    page = responder_client.get(reverse("incidents:board")).text

    assert "Declare incident" in page
    assert "Declare one" in page


def test_a_closed_incident_offers_no_changes(responder_client: Client, world: World, responder: User) -> None:
    for target in ["resolved", "closed"]:
        current = Incident.objects.get(pk=world.incident.pk).status
        services.incident_change_status(
            incident_id=world.incident.pk, user=responder, from_status=current, to_status=target
        )

    page = responder_client.get(world.url("detail")).text

    assert 'data-testid="incident-status">Closed<' in page
    assert 'name="to_status"' not in page
    assert "Mark done" not in page
    assert "Save details" not in page


# --- not found ---------------------------------------------------------------------------------


def test_an_unknown_incident_is_not_found(responder_client: Client, db: None) -> None:
    response = responder_client.get(reverse("incidents:detail", args=[MISSING]))

    assert response.status_code == 404


@pytest.mark.parametrize("name", POSTS[1:])
def test_posting_to_an_unknown_incident_is_not_found(responder_client: Client, world: World, name: str) -> None:
    before = snapshot()

    response = responder_client.post(world.url(name, pk=MISSING), world.payload(name))

    assert response.status_code == 404
    assert snapshot() == before


def test_a_checklist_item_of_another_incident_is_not_found(
    responder_client: Client, incident: Incident, other_incident: Incident
) -> None:
    foreign = other_incident.checklist.order_by("position").first()
    assert foreign is not None
    before = snapshot()

    response = responder_client.post(
        reverse("incidents:checklist", args=[incident.pk, foreign.pk, "done"]), {"from_state": "pending"}
    )

    assert response.status_code == 404
    assert snapshot() == before


def test_a_notification_of_another_incident_is_not_found(
    responder_client: Client, incident: Incident, other_incident: Incident, responder: User
) -> None:
    foreign = services.notification_record(
        incident_id=other_incident.pk, user=responder, method="chat", recipient="Sam"
    )
    before = snapshot()

    response = responder_client.post(reverse("incidents:notification_ack", args=[incident.pk, foreign.pk]))

    assert response.status_code == 404
    assert snapshot() == before


# --- bad input ---------------------------------------------------------------------------------

REQUIRED = "This field is required."


@pytest.mark.parametrize("data", [{}, {"title": "", "affected_components": "db-1"}])
def test_declaring_without_scenario_severity_or_title_shows_the_errors(
    responder_client: Client, procedures: list[Runbook], data: dict[str, str]
) -> None:
    response = responder_client.post(reverse("incidents:declare"), data)

    assert response.status_code == 400
    assert response.text.count(REQUIRED) == 3
    assert 'class="choices has-error"' in response.text
    assert Incident.objects.count() == 0
    assert TimelineEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("title", "x" * 10_000, "Ensure this value has at most 200 characters (it has 10000)."),
        (
            "noticed_at",
            (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "When it was first noticed cannot be in the future.",
        ),
        ("channel_url", "javascript:alert(1)", "Enter a valid URL."),
        ("severity", "sev0", "Select a valid choice. sev0 is not one of the available choices."),
        ("scenario", "alien_invasion", "Select a valid choice. alien_invasion is not one of the available choices."),
    ],
)
def test_declaring_with_a_bad_value_is_refused(
    responder_client: Client, procedures: list[Runbook], field: str, value: str, error: str
) -> None:
    data = {"scenario": "database_failure", "severity": "sev2", "title": "Database down", field: value}

    response = responder_client.post(reverse("incidents:declare"), data)

    assert response.status_code == 400
    assert error in response.text
    assert Incident.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("title", "x" * 10_000, "Ensure this value has at most 200 characters (it has 10000)."),
        ("title", "", REQUIRED),
        (
            "noticed_at",
            (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "When it was first noticed cannot be in the future.",
        ),
        ("channel_url", "javascript:alert(1)", "Enter a valid URL."),
    ],
)
def test_editing_details_with_a_bad_value_is_refused(
    responder_client: Client, world: World, field: str, value: str, error: str
) -> None:
    before = snapshot()

    response = responder_client.post(world.url("details"), details_post(world.incident, **{field: value}))

    assert response.status_code == 400
    assert error in response.text
    assert snapshot() == before


def test_only_responders_and_admins_can_be_made_commander(
    responder_client: Client, world: World, manager: User, procedures: list[Runbook]
) -> None:
    error = "Select a valid choice. That choice is not one of the available choices."
    before = snapshot()

    declared = responder_client.post(
        reverse("incidents:declare"),
        {"scenario": "system_outage", "severity": "sev1", "title": "Down", "commander": manager.pk},
    )
    edited = responder_client.post(world.url("details"), details_post(world.incident, commander=manager.pk))

    assert declared.status_code == edited.status_code == 400
    assert error in declared.text
    assert error in edited.text
    assert snapshot() == before


def test_too_many_fields_are_refused_and_write_nothing(responder_client: Client, world: World) -> None:
    data = {"body": "A note", **{f"extra{n}": "x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}}
    before = snapshot()

    response = responder_client.post(
        world.url("note_add"), urlencode(data), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert snapshot() == before


def test_a_bad_status_form_is_refused(responder_client: Client, world: World) -> None:
    before = snapshot()

    response = responder_client.post(world.url("status"), {"from_status": "investigating", "to_status": "panic"})

    assert response.status_code == 400
    assert "That status change was not understood" in response.text
    assert snapshot() == before


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
@pytest.mark.parametrize("state", ["finished", "DONE", "pending2"])
def test_a_bad_state_in_the_checklist_url_is_refused(
    responder_client: Client, world: World, headers: dict[str, str], state: str
) -> None:
    before = snapshot()

    response = responder_client.post(
        reverse("incidents:checklist", args=[world.incident.pk, world.item.pk, state]),
        {"from_state": "pending"},
        headers=headers,
    )

    assert response.status_code == 400
    assert "That checklist change was not understood" in response.text
    assert snapshot() == before


def test_skipping_a_step_without_a_reason_is_refused(responder_client: Client, world: World) -> None:
    before = snapshot()

    response = responder_client.post(
        reverse("incidents:checklist", args=[world.incident.pk, world.item.pk, "skipped"]),
        {"from_state": "pending", "reason": "  "},
        headers=HTMX,
    )

    assert response.status_code == 409
    assert "Say why the step is skipped." in response.text
    assert snapshot() == before


def test_skipping_a_done_step_is_refused_until_it_is_reopened(
    responder_client: Client, world: World, responder: User
) -> None:
    services.checklist_item_set_state(
        incident_id=world.incident.pk, item_id=world.item.pk, user=responder, state="done", from_state="pending"
    )
    before = snapshot()

    response = responder_client.post(
        reverse("incidents:checklist", args=[world.incident.pk, world.item.pk, "skipped"]),
        {"from_state": "done", "reason": "Not needed after all"},
        headers=HTMX,
    )

    assert response.status_code == 409
    assert "It is done: it cannot become skipped." in response.text
    assert snapshot() == before


def test_a_notification_needs_someone_to_have_been_notified(responder_client: Client, world: World) -> None:
    before = snapshot()

    response = responder_client.post(world.url("notification_add"), {"method": "phone", "recipient": "  "})

    assert response.status_code == 400
    assert "Choose a contact, or write the name of who was notified." in response.text
    assert snapshot() == before


def test_an_empty_note_is_refused(responder_client: Client, world: World) -> None:
    before = snapshot()

    response = responder_client.post(world.url("note_add"), {"body": " \n "})

    assert response.status_code == 400
    assert REQUIRED in response.text
    assert snapshot() == before


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
@pytest.mark.parametrize("name", ["note_add", "details", "notification_add", "declare"])
def test_a_body_over_the_upload_limit_is_refused_and_writes_nothing(
    responder_client: Client, world: World, name: str, multipart: bool
) -> None:
    data = world.payload(name)
    field = {"note_add": "body", "details": "impact", "notification_add": "note", "declare": "impact"}[name]
    data[field] = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    before = snapshot()

    if multipart:
        response = responder_client.post(world.url(name), data)
    else:
        response = responder_client.post(
            world.url(name), urlencode(data), content_type="application/x-www-form-urlencoded"
        )

    assert response.status_code == 400
    assert "Nothing was saved." in response.text
    assert snapshot() == before


# --- what notes show ---------------------------------------------------------------------------


def test_a_note_is_shown_sanitised(responder_client: Client, world: World) -> None:
    body = "<script>alert(1)</script>\n\n[x](javascript:alert(1)) and **bold** <img src=x onerror=alert(2)>"

    response = responder_client.post(world.url("note_add"), {"body": body}, follow=True)

    assert response.status_code == 200
    page = response.text
    assert "<strong>bold</strong>" in page
    assert "<script>alert" not in page
    assert "javascript:" not in page
    assert "onerror" not in page
    assert TimelineEvent.objects.filter(kind=EventKind.NOTE_ADDED, body=body).exists()


def test_a_note_is_sanitised_in_the_htmx_partial_too(responder_client: Client, world: World) -> None:
    body = "<script>alert(1)</script> [x](javascript:alert(1)) **bold**"

    response = responder_client.post(world.url("note_add"), {"body": body}, headers=HTMX)

    assert response.status_code == 200
    assert "<strong>bold</strong>" in response.text
    assert "<script" not in response.text
    assert "javascript:" not in response.text


def test_html_in_plain_fields_is_escaped(responder_client: Client, procedures: list[Runbook]) -> None:
    title = "<script>alert(1)</script>"
    response = responder_client.post(
        reverse("incidents:declare"),
        {"scenario": "system_outage", "severity": "sev1", "title": title, "impact": "<b>everyone</b>"},
        follow=True,
    )

    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<script>alert(1)" not in response.text
    assert "<b>everyone</b>" not in response.text
    board = responder_client.get(reverse("incidents:board")).text
    assert "<script>alert(1)" not in board
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in board


# --- CSRF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", POSTS)
def test_a_post_without_a_csrf_token_is_refused(world: World, responder: User, name: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(responder)
    before = snapshot()

    response = client.post(world.url(name), world.payload(name))

    assert response.status_code == 403
    assert snapshot() == before


def test_a_post_with_the_csrf_token_of_the_page_is_accepted(world: World, responder: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(responder)
    page = client.get(world.url("detail"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    before = event_ids(world.incident)

    response = client.post(world.url("note_add"), {"body": "With a token", "csrfmiddlewaretoken": token.group(1)})

    assert response.status_code == 302
    assert [(e.kind, e.body) for e in new_events(world.incident, before)] == [(EventKind.NOTE_ADDED, "With a token")]


def test_htmx_posts_carry_the_csrf_token_in_a_header(world: World, responder: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(responder)
    page = client.get(world.url("detail")).text
    token = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", page)
    assert token is not None

    response = client.post(
        world.url("note_add"), {"body": "Over htmx"}, headers={**HTMX, "X-CSRFToken": token.group(1)}
    )

    assert response.status_code == 200
    assert world.incident.events.filter(kind=EventKind.NOTE_ADDED, body="Over htmx", actor=responder).exists()


# --- htmx --------------------------------------------------------------------------------------


def _live(response: Any) -> str:
    text: str = response.text
    assert 'id="incident-header"' in text
    assert 'id="messages"' in text
    assert "<html" not in text
    return text


def test_htmx_status_change_gets_the_live_partial(responder_client: Client, world: World) -> None:
    response = responder_client.post(world.url("status"), world.payload("status"), headers=HTMX)

    assert response.status_code == 200
    text = _live(response)
    assert 'data-testid="incident-status">Identified<' in text
    assert "Status: Investigating → Identified" in text
    assert Incident.objects.get(pk=world.incident.pk).status == "identified"


@pytest.mark.parametrize("name", POSTS[1:])
def test_every_htmx_change_gets_the_live_partial(responder_client: Client, world: World, name: str) -> None:
    response = responder_client.post(world.url(name), world.payload(name), headers=HTMX)

    assert response.status_code == 200
    _live(response)
    assert 'id="incident-checklist"' in response.text
    assert 'id="incident-timeline"' in response.text


def test_htmx_get_of_the_incident_page_is_the_partial(manager_client: Client, world: World) -> None:
    response = manager_client.get(world.url("detail"), headers=HTMX)

    assert response.status_code == 200
    _live(response)


def test_htmx_get_of_the_board_is_the_partial(manager_client: Client, world: World) -> None:
    response = manager_client.get(world.url("board"), headers=HTMX)

    assert response.status_code == 200
    assert 'id="board"' in response.text
    assert "<html" not in response.text
    assert "Primary database down" in response.text


def test_htmx_stale_status_change_is_a_409_with_the_message(
    responder_client: Client, world: World, second_responder: User
) -> None:
    services.incident_change_status(
        incident_id=world.incident.pk, user=second_responder, from_status="investigating", to_status="mitigating"
    )
    before = snapshot()

    response = responder_client.post(world.url("status"), world.payload("status"), headers=HTMX)

    assert response.status_code == 409
    text = _live(response)
    assert "The status was changed to mitigating while you were looking; check it and try again." in text
    assert 'data-testid="incident-status">Mitigating<' in text
    assert snapshot() == before


def test_htmx_double_tick_is_a_409_naming_who_ticked(
    responder_client: Client, world: World, second_responder: User
) -> None:
    services.checklist_item_set_state(
        incident_id=world.incident.pk, item_id=world.item.pk, user=second_responder, state="done", from_state="pending"
    )
    before = snapshot()

    response = responder_client.post(world.url("checklist"), {"from_state": "pending"}, headers=HTMX)

    assert response.status_code == 409
    assert "“Assess the situation” was already marked done by Sam Second." in _live(response)
    assert snapshot() == before


def test_htmx_second_acknowledgement_is_a_409(responder_client: Client, world: World, second_responder: User) -> None:
    services.notification_acknowledge(incident_id=world.incident.pk, entry_id=world.entry.pk, user=second_responder)
    before = snapshot()

    response = responder_client.post(world.url("notification_ack"), headers=HTMX)

    assert response.status_code == 409
    assert "Dee DBA was already recorded as acknowledged" in _live(response)
    assert snapshot() == before


def test_a_plain_conflict_redirects_and_shows_the_message(
    responder_client: Client, world: World, second_responder: User
) -> None:
    services.incident_change_status(
        incident_id=world.incident.pk, user=second_responder, from_status="investigating", to_status="resolved"
    )

    response = responder_client.post(world.url("status"), world.payload("status"), follow=True)

    assert response.redirect_chain == [(world.url("detail"), 302)]
    assert "The status was changed to resolved while you were looking" in response.text
    assert Incident.objects.get(pk=world.incident.pk).status == "resolved"


def test_two_responders_editing_different_fields_both_save(
    responder_client: Client, world: World, second_responder: User
) -> None:
    other = Client()
    other.force_login(second_responder)
    first = details_post(world.incident, title="Replica lag")
    second = details_post(world.incident, impact="Checkout is slow")

    assert responder_client.post(world.url("details"), first, headers=HTMX).status_code == 200
    response = other.post(world.url("details"), second, headers=HTMX)

    assert response.status_code == 200
    assert "Saved." in response.text
    incident = Incident.objects.get(pk=world.incident.pk)
    assert (incident.title, incident.impact) == ("Replica lag", "Checkout is slow")


def test_two_responders_editing_the_same_field_is_a_409_for_the_second(
    responder_client: Client, world: World, second_responder: User
) -> None:
    other = Client()
    other.force_login(second_responder)
    first = details_post(world.incident, title="Replica lag")
    second = details_post(world.incident, title="Disk full", impact="Writes fail")
    responder_client.post(world.url("details"), first, headers=HTMX)
    before = snapshot()

    response = other.post(world.url("details"), second, headers=HTMX)

    assert response.status_code == 409
    assert "Someone else changed title while you were editing. Nothing was saved" in response.text
    assert snapshot() == before


def test_saving_unchanged_details_says_so_and_writes_nothing(responder_client: Client, world: World) -> None:
    before = snapshot()

    response = responder_client.post(world.url("details"), details_post(world.incident), headers=HTMX)

    assert response.status_code == 200
    assert "Nothing changed." in response.text
    assert snapshot() == before


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_the_details_form_as_shown_saves_only_what_was_edited(
    world: World, responder: User, second_responder: User, tz: str
) -> None:
    """Posting back the page's own form, in the user's time zone, changes only the edited field."""
    User.objects.filter(pk=responder.pk).update(timezone=tz)
    services.incident_update(
        incident_id=world.incident.pk,
        user=responder,
        changes=[
            services.FieldChange("coordinator", None, second_responder),
            services.FieldChange("impact", "", "Line one\nLine two"),
            services.FieldChange("channel_url", "", "https://chat.example.com/inc-1"),
        ],
    )
    client = Client()
    client.force_login(responder)
    action = reverse("incidents:details", args=[world.incident.pk])
    form = form_on_page(client.get(world.url("detail")).text, action)
    assert form["seen-title"] == form["title"] == "Primary database down"
    before = Incident.objects.get(pk=world.incident.pk)
    entries = event_ids(world.incident)

    unchanged = client.post(action, form, headers=HTMX)
    form["title"] = "Primary database refuses connections"
    changed = client.post(action, form, follow=True)

    assert "Nothing changed." in unchanged.text
    assert "Saved." in changed.text
    after = Incident.objects.get(pk=world.incident.pk)
    assert after.title == "Primary database refuses connections"
    for field in ["severity", "noticed_at", "impact", "commander", "coordinator", "channel_url"]:
        assert getattr(after, field) == getattr(before, field), field
    assert [(e.kind, e.data) for e in new_events(world.incident, entries)] == [
        (EventKind.DETAILS_CHANGED, {"field": "title", "value": "Primary database refuses connections"})
    ]


# --- declaring -----------------------------------------------------------------------------------


def test_declaring_redirects_to_the_incident_with_the_runbook_as_checklist(
    responder_client: Client, procedures: list[Runbook], responder: User
) -> None:
    response = responder_client.post(
        reverse("incidents:declare"),
        {"scenario": "security_breach", "severity": "sev1", "title": "Leaked API keys"},
        follow=True,
    )

    incident = Incident.objects.get()
    assert response.redirect_chain == [(reverse("incidents:detail", args=[incident.pk]), 302)]
    assert (incident.title, incident.severity, incident.scenario) == ("Leaked API keys", "sev1", "security_breach")
    assert incident.commander == responder
    page = response.text
    assert f"{incident.reference} declared. Its runbook is your checklist." in page
    titles = [s.title for s in [*INITIAL_RESPONSE.steps, *SCENARIOS["security_breach"].steps, *POST_EMERGENCY.steps]]
    shown = re.findall(r'<span class="step-title">([^<]*)</span>', page)
    assert shown == [t.replace("'", "&#x27;") for t in titles]
    for phase in ["Initial Response", "Security Breach", "Post-Emergency Actions"]:
        assert f"<h3>{phase}</h3>" in page
    assert "Declared SEV1 Security Breach: Leaked API keys" in page


def test_declare_form_preselects_the_scenario_from_the_query(responder_client: Client, db: None) -> None:
    page = responder_client.get(reverse("incidents:declare") + "?scenario=data_corruption").text

    assert re.search(r'<input[^>]*value="data_corruption"[^>]*checked', page)


# --- the incident list ---------------------------------------------------------------------------


@pytest.fixture
def mixed_incidents(procedures: list[Runbook], responder: User) -> dict[str, Incident]:
    made = {
        "outage": declare_incident(responder, scenario="system_outage", title="Everything is down"),
        "breach": declare_incident(responder, scenario="security_breach", title="Keys leaked"),
        "db": declare_incident(responder, scenario="database_failure", title="DB slow"),
    }
    services.incident_change_status(
        incident_id=made["breach"].pk, user=responder, from_status="investigating", to_status="resolved"
    )
    return made


def _listed(client: Client, query: str) -> set[str]:
    response = client.get(reverse("incidents:list") + query)
    assert response.status_code == 200
    return set(re.findall(r'href="/incidents/\d+/"><strong>INC-\d+</strong> ([^<]+)</a>', response.text))


def test_the_list_shows_every_incident(manager_client: Client, mixed_incidents: dict[str, Incident]) -> None:
    assert _listed(manager_client, "") == {"Everything is down", "Keys leaked", "DB slow"}


def test_the_list_filters_by_status(manager_client: Client, mixed_incidents: dict[str, Incident]) -> None:
    assert _listed(manager_client, "?status=resolved") == {"Keys leaked"}
    assert _listed(manager_client, "?status=investigating") == {"Everything is down", "DB slow"}
    assert _listed(manager_client, "?status=closed") == set()


def test_the_list_filters_by_scenario(manager_client: Client, mixed_incidents: dict[str, Incident]) -> None:
    assert _listed(manager_client, "?scenario=database_failure") == {"DB slow"}
    assert _listed(manager_client, "?scenario=system_outage&status=investigating") == {"Everything is down"}
    assert _listed(manager_client, "?scenario=system_outage&status=resolved") == set()


@pytest.mark.parametrize(
    "query", ["?status=bogus", "?scenario=alien_invasion", "?status=' OR 1=1 --&scenario=%00", "?page=banana"]
)
def test_the_list_ignores_bogus_filters(
    manager_client: Client, mixed_incidents: dict[str, Incident], query: str
) -> None:
    assert _listed(manager_client, query) == {"Everything is down", "Keys leaked", "DB slow"}


def test_the_list_marks_the_chosen_filter(manager_client: Client, mixed_incidents: dict[str, Incident]) -> None:
    page = manager_client.get(reverse("incidents:list") + "?status=resolved&scenario=bogus").text

    assert '<option value="resolved" selected>' in page
    assert '<option value="">Any</option>' in page
    assert " selected>" not in page.split('id="f-scenario"')[1].split("</select>")[0]
