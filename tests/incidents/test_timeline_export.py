"""The timeline export: `GET /incidents/<n>/timeline.json` and `/timeline.md`, from the typed
events, with the incident page's permission (issue 10 §1)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from itertools import cycle
from typing import Any

import markdown
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.incidents import services
from apps.incidents.models import Component, EventKind, Incident, TimelineEvent
from apps.runbooks.models import Runbook
from tests.factories import UserFactory, declare_incident, make_run

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
FORMATS = ["timeline_json", "timeline_md"]
ROLES = ["responder_client", "manager_client", "comms_client", "admin_client_"]


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def worked(procedures: list[Runbook], responder: User, second_responder: User) -> Incident:
    """Declared, a step ticked, a note, a status change, then a run that verified its step (the
    worker acting for nobody), a minute apart each."""
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(responder, title="Primary database down")
    assess = incident.checklist.get(title="Assess the situation")
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        services.checklist_item_set_state(
            incident_id=incident.pk, item_id=assess.pk, user=second_responder, state="done", from_state="pending"
        )
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        services.note_add(incident_id=incident.pk, user=second_responder, body="Failover started\n\nby **Sam**")
    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        services.incident_change_status(
            incident_id=incident.pk, user=responder, from_status="investigating", to_status="identified"
        )
    restart = incident.checklist.get(title="Restart database service")
    run = make_run(incident, responder, item=restart)
    with time_machine.travel(T0 + timedelta(minutes=4), tick=False):
        services.checklist_item_complete_by_run(incident_id=incident.pk, item_id=restart.pk, user=None, run_id=run.pk)
    return incident


def _url(name: str, pk: int) -> str:
    return reverse(f"incidents:{name}", args=[pk])


# --- JSON ----------------------------------------------------------------------------------------


def test_the_json_export_is_the_incident_and_its_events_in_time_order(
    worked: Incident, responder: User, second_responder: User, manager_client: Client
) -> None:
    response = manager_client.get(_url("timeline_json", worked.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    ids = list(worked.events.order_by("at", "pk").values_list("pk", flat=True))
    assess = worked.checklist.get(title="Assess the situation")
    restart = worked.checklist.get(title="Restart database service")
    run = restart.action_runs.get()
    riley = {"type": "user", "name": "Riley Responder", "id": responder.pk}
    sam = {"type": "user", "name": "Sam Second", "id": second_responder.pk}
    assert response.json() == {
        "incident": {
            "id": worked.pk,
            "reference": f"INC-{worked.pk}",
            "title": "Primary database down",
            "scenario": "database_failure",
            "severity": "sev2",
            "status": "identified",
            "declared_at": _at(0),
            "noticed_at": _at(0),
            "resolved_at": None,
            "closed_at": None,
        },
        "events": [
            {
                "id": ids[0],
                "at": _at(0),
                "kind": "declared",
                "actor": riley,
                "refs": {},
                "data": {
                    "severity": "sev2",
                    "scenario": "database_failure",
                    "title": "Primary database down",
                    "via": "",
                },
                "text": "Declared SEV2 Database Failure: Primary database down",
            },
            {
                "id": ids[1],
                "at": _at(1),
                "kind": "step_done",
                "actor": sam,
                "refs": {"item": assess.pk},
                "data": {"title": "Assess the situation"},
                "text": "Done: Assess the situation",
            },
            {
                "id": ids[2],
                "at": _at(2),
                "kind": "note_added",
                "actor": sam,
                "refs": {},
                "data": {},
                "text": "Note: Failover started",
                "body": "Failover started\n\nby **Sam**",
            },
            {
                "id": ids[3],
                "at": _at(3),
                "kind": "status_changed",
                "actor": riley,
                "refs": {},
                "data": {"from": "investigating", "to": "identified"},
                "text": "Status: Investigating → Identified",
            },
            {
                "id": ids[4],
                "at": _at(4),
                "kind": "step_done",
                "actor": {"type": "system", "name": "Host worker", "id": "worker"},
                "refs": {"run": run.pk, "item": restart.pk},
                "data": {"title": "Restart database service", "verified": True},
                "text": f"Done: Restart database service (verified by run #{run.pk})",
            },
        ],
    }


def test_events_at_the_same_moment_keep_the_order_they_were_written(
    procedures: list[Runbook], responder: User, responder_client: Client
) -> None:
    with time_machine.travel(T0, tick=False):
        incident = declare_incident(responder)
        for n in range(5):
            services.note_add(incident_id=incident.pk, user=responder, body=f"Note {n}")

    exported = responder_client.get(_url("timeline_json", incident.pk)).json()["events"]

    assert [e["kind"] for e in exported] == ["declared"] + ["note_added"] * 5
    assert [e.get("body") for e in exported[1:]] == [f"Note {n}" for n in range(5)]
    assert [e["id"] for e in exported] == sorted(e["id"] for e in exported)


def test_user_text_in_json_is_data_not_markup(
    procedures: list[Runbook], responder: User, manager_client: Client
) -> None:
    title = '<script>alert("x")</script> | é'
    incident = declare_incident(responder, title=title)

    response = manager_client.get(_url("timeline_json", incident.pk))

    assert response.json()["incident"]["title"] == title
    assert response.json()["events"][0]["data"]["title"] == title
    assert json.loads(response.content)["events"][0]["text"].endswith(title)


# --- Markdown ------------------------------------------------------------------------------------


def _table_rows(document: str) -> list[str]:
    return [line for line in document.splitlines() if line.startswith("| ") and not line.startswith("| ---")]


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_the_markdown_export_has_a_header_and_one_row_per_event(worked: Incident, comms_client: Client) -> None:
    response = comms_client.get(_url("timeline_md", worked.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert f'filename="INC-{worked.pk}-timeline.md"' in response["Content-Disposition"]
    document = response.content.decode()
    assert document.startswith(f"# INC-{worked.pk} Primary database down\n")
    for fact in ["- Scenario: Database Failure", "- Severity: SEV2", "- Status: Identified"]:
        assert fact in document
    assert "- Declared: 2025-03-04 10:00:00 UTC" in document
    rows = _table_rows(document)
    assert rows[0] == "| Time (UTC) | Who | What |"
    assert len(rows[1:]) == worked.events.count() == 5
    assert (
        rows[1] == "| 2025-03-04 10:00:00 | Riley Responder | Declared SEV2 Database Failure: Primary database down |"
    )
    assert rows[3] == "| 2025-03-04 10:02:00 | Sam Second | Failover started by \\*\\*Sam\\*\\* |"
    run = worked.events.get(run__isnull=False).run_id
    assert (
        rows[5] == f"| 2025-03-04 10:04:00 | Host worker | Done: Restart database service (verified by run \\#{run}) |"
    )


def test_the_markdown_export_escapes_user_text(procedures: list[Runbook], manager_client: Client) -> None:
    """A title or a name with HTML and table pipes neither breaks the table nor becomes HTML."""
    mallory = UserFactory(username="mallory", first_name="Mal|ory", last_name="<img src=x onerror=alert(1)>")
    title = "<script>alert(1)</script> | db | *down*"
    incident = declare_incident(mallory, title=title)
    services.note_add(incident_id=incident.pk, user=mallory, body="line one\n| a | b |\n<b>bold</b> `code`")
    services.incident_update(
        incident_id=incident.pk,
        user=mallory,
        changes=[services.FieldChange("impact", "", "Checkout | payments <iframe src=//evil>")],
    )

    document = manager_client.get(_url("timeline_md", incident.pk)).content.decode()

    rows = _table_rows(document)
    assert len(rows) == 1 + 3
    assert all(_unescaped_pipes(row) == 4 for row in rows), rows
    html = markdown.markdown(document, extensions=["tables"])
    for tag in ["<script", "<img", "<iframe", "<b>", "<em>", "<code>"]:
        assert tag not in html, tag
    assert html.count("<tr>") == 1 + 3
    assert all(row.count("<td>") == 3 for row in html.split("<tr>")[2:])
    assert "alert(1)" in html  # shown as text, not dropped


# --- who may read it -----------------------------------------------------------------------------


@pytest.mark.parametrize("client_name", ROLES)
@pytest.mark.parametrize("name", FORMATS)
def test_every_role_that_sees_the_incident_can_export_it(
    request: pytest.FixtureRequest, worked: Incident, client_name: str, name: str
) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.get(_url(name, worked.pk))

    assert response.status_code == 200
    assert "Primary database down" in response.content.decode()


@pytest.mark.parametrize("name", FORMATS)
def test_anonymous_is_sent_to_login_and_gets_no_data(anonymous_client: Client, worked: Incident, name: str) -> None:
    url = _url(name, worked.pk)

    response = anonymous_client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"
    assert b"Primary database down" not in response.content


@pytest.mark.parametrize("name", FORMATS)
def test_a_deactivated_user_gets_no_data(worked: Incident, responder: User, name: str) -> None:
    client = Client()
    client.force_login(responder)
    User.objects.filter(pk=responder.pk).update(is_active=False)

    response = client.get(_url(name, worked.pk))

    assert response.status_code in {302, 403}
    assert b"Primary database down" not in response.content


@pytest.mark.parametrize("name", FORMATS)
def test_an_unknown_incident_is_not_found(responder_client: Client, db: None, name: str) -> None:
    assert responder_client.get(_url(name, 987654)).status_code == 404


@pytest.mark.parametrize("name", FORMATS)
def test_the_export_is_read_only(responder_client: Client, worked: Incident, name: str) -> None:
    before = worked.events.count()

    assert responder_client.post(_url(name, worked.pk)).status_code == 405
    assert worked.events.count() == before


# --- cost ----------------------------------------------------------------------------------------


def _bulk_events(incident: Incident, count: int) -> None:
    """Events by distinct people and components, referring to steps and runs, so an actor, a
    reference or a link read one by one would cost a query per event."""
    people = [UserFactory(username=f"exporter{n}-{count}", first_name=f"P{n}", last_name="X") for n in range(5)]
    runs = cycle([make_run(incident, people[n], host_name=f"web-{count}-{n}") for n in range(3)])
    items = cycle(incident.checklist.order_by("position"))
    now = timezone.now()
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            kind=EventKind.STEP_DONE if n % 2 else EventKind.NOTE_ADDED,
            actor=people[n % 5] if n % 4 else None,
            component="" if n % 4 else Component.WORKER,
            at=now + timedelta(seconds=n),
            item=next(items) if n % 2 else None,
            run=next(runs) if n % 2 else None,
            data={"title": "Step", "verified": True} if n % 2 else {},
            body="" if n % 2 else f"Note {n}",
        )
        for n in range(count)
    )


def _export_queries(client: Client, incident: Incident) -> tuple[int, dict[str, Any]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(_url("timeline_json", incident.pk))
    assert response.status_code == 200
    return len(captured), response.json()


def test_the_json_export_query_count_does_not_grow_with_events(
    procedures: list[Runbook], responder: User, manager_client: Client
) -> None:
    incident = declare_incident(responder)
    _bulk_events(incident, 9)
    at_ten, small = _export_queries(manager_client, incident)

    _bulk_events(incident, 190)
    at_200, large = _export_queries(manager_client, incident)

    print(f"\ntimeline.json queries: {at_ten} at 10 events, {at_200} at 200 events")
    assert (len(small["events"]), len(large["events"])) == (10, 200)
    assert at_200 == at_ten
