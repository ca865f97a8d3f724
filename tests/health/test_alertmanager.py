"""Prometheus Alertmanager's webhook (payload version 4): firing groups open or update an incident,
deduplicated by group key; resolved groups add to its timeline; anything malformed or
unauthenticated gets a clear 4xx and changes nothing."""

from __future__ import annotations

import copy
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.health.models import AlertGroup
from apps.incidents import services as incident_services
from apps.incidents.models import ChecklistItem, Component, EventKind, Incident, NotificationEntry, TimelineEvent

pytestmark = pytest.mark.django_db

TOKEN = "am-webhook-7f3c2a9e1b"
URL = reverse("alertmanager_webhook")
GROUP_KEY = '{}/{severity="critical"}:{alertname="PostgresDown"}'


def _alert(status: str, instance: str, **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {
            "alertname": "PostgresDown",
            "instance": instance,
            "job": "postgres-exporter",
            "severity": "critical",
            "scenario": "database_failure",
            **labels,
        },
        "annotations": {
            "summary": "PostgreSQL is down",
            "description": f"pg_up has been 0 on {instance} for more than 1 minute.",
            "runbook_url": "https://wiki.example.com/runbooks/postgres-down",
        },
        "startsAt": "2026-03-02T10:04:12.118Z",
        "endsAt": "2026-03-02T10:09:42.118Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=pg_up+%3D%3D+0&g0.tab=1",
        "fingerprint": f"{abs(hash(instance)):016x}"[:16],
    }


def payload(status: str = "firing", *, instances: tuple[str, ...] = ("db-1:9187",), **labels: str) -> dict[str, Any]:
    """What Alertmanager 0.27 posts to a webhook receiver for the PostgresDown group."""
    alerts = [_alert(status, instance, **labels) for instance in instances]
    common = {k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)}
    return {
        "receiver": "incident-center",
        "status": status,
        "alerts": alerts,
        "groupLabels": {"alertname": common.get("alertname", "PostgresDown")},
        "commonLabels": common,
        "commonAnnotations": {"summary": "PostgreSQL is down", "description": alerts[0]["annotations"]["description"]},
        "externalURL": "http://alertmanager.example.com:9093",
        "version": "4",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
    }


def post(body: Any, token: str | None = TOKEN, client: Client | None = None) -> Any:
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return (client or Client()).post(URL, raw, content_type="application/json", **headers)


def everything() -> dict[str, list[tuple[Any, ...]]]:
    """Every row a webhook could write, to compare before and after."""
    return {
        model.__name__: list(model.objects.order_by("pk").values_list())
        for model in (Incident, TimelineEvent, ChecklistItem, NotificationEntry, AlertGroup)
    }


@pytest.fixture(autouse=True)
def _webhook_enabled(settings: Any) -> None:
    settings.ALERTMANAGER_TOKEN = TOKEN
    settings.ALERTMANAGER_SCENARIOS = {"WebsiteDown": "system_outage", "PostgresDown": "database_failure"}


TITLE = "PostgresDown: PostgreSQL is down"
LABELS = {
    "alertname": "PostgresDown",
    "severity": "critical",
    "scenario": "database_failure",
    "job": "postgres-exporter",
}


def _signals(incident: Incident) -> list[tuple[str, dict[str, Any]]]:
    """The alert group's events on the incident, oldest first: each is the webhook's, on its group."""
    events = list(incident.events.filter(kind__in=[EventKind.SIGNAL_RECEIVED, EventKind.ALERT_RESOLVED]).order_by("pk"))
    group = AlertGroup.objects.get(incident=incident)
    assert all((e.actor, e.component, e.alert_group) == (None, Component.WEBHOOK, group) for e in events)
    return [(e.kind, e.data) for e in events]


# --- firing -----------------------------------------------------------------------------------


def test_a_firing_alert_opens_an_incident_declared_by_alertmanager() -> None:
    response = post(payload(instances=("db-1:9187", "db-2:9187")))

    assert response.status_code == 201
    incident = Incident.objects.get()
    assert response.json() == {"incident": incident.reference, "opened": True}
    assert incident.title == "PostgresDown: PostgreSQL is down"
    assert incident.scenario == "database_failure"
    assert incident.severity == "sev1"
    assert incident.status == Incident.Status.INVESTIGATING
    assert (incident.declared_by, incident.declared_via, incident.commander) == (None, "Alertmanager", None)
    assert incident.affected_components == "db-1:9187, db-2:9187"
    assert "pg_up has been 0" in incident.impact
    declared = incident.events.get(kind=EventKind.DECLARED)
    assert declared.data == {"severity": "sev1", "scenario": "database_failure", "title": TITLE, "via": "Alertmanager"}
    assert (declared.actor, declared.component) == (None, Component.WEBHOOK)
    assert declared.text == "Declared SEV1 Database Failure: PostgresDown: PostgreSQL is down (by Alertmanager)"
    assert AlertGroup.objects.get().incident == incident


def test_the_scenario_comes_from_the_alertname_mapping_without_a_scenario_label() -> None:
    body = payload(alertname="WebsiteDown", severity="warning")
    for alert in body["alerts"]:
        del alert["labels"]["scenario"]
    del body["commonLabels"]["scenario"]

    assert post(body).status_code == 201

    incident = Incident.objects.get()
    assert (incident.scenario, incident.severity) == ("system_outage", "sev3")


def test_an_alert_nobody_mapped_is_a_sev2_system_outage(settings: Any) -> None:
    settings.ALERTMANAGER_SCENARIOS = {}
    body = payload(alertname="DiskWillFillIn4Hours", scenario="not-a-scenario", severity="bogus")

    assert post(body).status_code == 201

    incident = Incident.objects.get()
    assert (incident.scenario, incident.severity) == ("system_outage", "sev2")


def test_the_same_group_firing_again_opens_nothing_new() -> None:
    first = post(payload())
    before = everything()

    again = post(payload(instances=("db-1:9187", "db-2:9187")))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {"incident": first.json()["incident"], "opened": False}
    after = everything()
    assert after["Incident"] == before["Incident"]
    assert after["TimelineEvent"] == before["TimelineEvent"]


# --- resolved, and firing again -----------------------------------------------------------------


def test_a_resolved_group_adds_a_timeline_event_and_leaves_the_incident_to_people() -> None:
    post(payload())
    incident = Incident.objects.get()

    response = post(payload("resolved"))

    assert response.status_code == 200
    assert response.json() == {"incident": incident.reference, "opened": False}
    assert _signals(incident) == [
        (
            EventKind.ALERT_RESOLVED,
            {"title": TITLE, "status": "resolved", "labels": {**LABELS, "instance": "db-1:9187"}},
        )
    ]
    incident.refresh_from_db()
    assert incident.status == Incident.Status.INVESTIGATING
    assert AlertGroup.objects.get().status == "resolved"

    # Alertmanager repeats a resolved notification; the timeline says it once.
    post(payload("resolved"))
    assert len(_signals(incident)) == 1


def test_firing_again_after_resolved_says_so_on_the_same_incident() -> None:
    post(payload())
    post(payload("resolved"))

    response = post(payload(instances=("db-1:9187", "db-2:9187")))

    assert response.status_code == 200
    incident = Incident.objects.get()
    assert _signals(incident) == [
        (
            EventKind.ALERT_RESOLVED,
            {"title": TITLE, "status": "resolved", "labels": {**LABELS, "instance": "db-1:9187"}},
        ),
        (EventKind.SIGNAL_RECEIVED, {"title": TITLE, "status": "firing", "alerts": 2, "labels": LABELS}),
    ]


def test_firing_after_the_incident_was_resolved_opens_a_new_one(responder: User) -> None:
    post(payload())
    first = Incident.objects.get()
    incident_services.incident_change_status(
        incident_id=first.pk, user=responder, from_status=first.status, to_status=Incident.Status.RESOLVED
    )

    response = post(payload())

    assert response.status_code == 201
    second = Incident.objects.exclude(pk=first.pk).get()
    assert response.json() == {"incident": second.reference, "opened": True}
    assert AlertGroup.objects.get().incident == second
    assert second.declared_via == "Alertmanager"


def test_a_resolved_group_that_never_fired_here_is_refused() -> None:
    before = everything()

    response = post(payload("resolved"))

    assert response.status_code == 422
    assert "never fired" in response.json()["error"]
    assert everything() == before


# --- refused webhooks change nothing ------------------------------------------------------------


def _valid() -> dict[str, Any]:
    return payload()


def _without(key: str) -> dict[str, Any]:
    body = payload()
    del body[key]
    return body


def _with(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(payload())
    body.update(changes)
    return body


WRONG_SHAPES = {
    "a list": [payload()],
    "version 3": _with(version="3"),
    "no groupKey": _without("groupKey"),
    "an empty groupKey": _with(groupKey=""),
    "a status that is neither": _with(status="pending"),
    "no alerts": _with(alerts=[]),
    "alerts not a list": _with(alerts={"status": "firing"}),
    "an alert that is not an object": _with(alerts=["PostgresDown"]),
    "labels not an object": _with(alerts=[{"status": "firing", "labels": ["alertname"]}]),
    "commonLabels of numbers": _with(commonLabels={"alertname": "PostgresDown", "severity": 1}),
    "a groupKey too long": _with(groupKey="k" * 501),
}


@pytest.mark.parametrize("body", WRONG_SHAPES.values(), ids=WRONG_SHAPES.keys())
def test_a_payload_of_the_wrong_shape_is_refused_with_the_reason(body: Any) -> None:
    post(payload())  # an incident exists already: a refused webhook must not touch it either
    before = everything()

    response = post(body)

    assert response.status_code == 422
    assert response.json()["error"]
    assert everything() == before


def test_malformed_json_is_a_bad_request() -> None:
    before = everything()

    response = post(b'{"version": "4", "status": "firing", "alerts": [')

    assert response.status_code == 400
    assert response.json() == {"error": "The body is not valid JSON."}
    assert everything() == before


@pytest.mark.parametrize(
    ("token", "header"),
    [(None, None), ("wrong-token", None), (None, f"Basic {TOKEN}"), (None, TOKEN), (None, "Bearer ")],
    ids=["no header", "wrong token", "basic auth", "no scheme", "empty bearer"],
)
def test_a_webhook_without_the_right_bearer_token_is_unauthorized(token: str | None, header: str | None) -> None:
    before = everything()
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}

    response = Client().post(
        URL,
        json.dumps(_valid()),
        content_type="application/json",
        **({"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else extra),
    )

    assert response.status_code == 401
    assert response.json() == {"error": "Missing or wrong bearer token."}
    assert everything() == before


def test_the_webhook_is_off_until_a_token_is_configured(settings: Any) -> None:
    settings.ALERTMANAGER_TOKEN = ""
    before = everything()

    response = post(_valid(), token="anything")

    assert response.status_code == 403
    assert "ALERTMANAGER_TOKEN is not set" in response.json()["error"]
    assert everything() == before


@pytest.mark.parametrize("kib", [513, 2048], ids=["over 512 KiB", "over Django's own limit"])
def test_a_body_over_512_kib_is_too_large(kib: int) -> None:
    body = payload()
    body["commonAnnotations"]["description"] = "x" * (kib * 1024)
    before = everything()

    response = post(body)

    assert response.status_code == 413
    assert response.json() == {"error": "The body is larger than 524288 bytes."}
    assert everything() == before


def test_the_webhook_only_accepts_post() -> None:
    assert Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


# --- two Alertmanager replicas at once ----------------------------------------------------------


def _post_from_a_thread(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    try:
        response = post(body)
        return response.status_code, response.json()
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_replicas_posting_a_new_group_at_the_same_moment_open_one_incident() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        # Hold both webhooks at their first look at the group, then let them go together.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("LOCK TABLE health_alertgroup IN EXCLUSIVE MODE")
            futures = [pool.submit(_post_from_a_thread, payload()) for _ in range(2)]
            deadline = time.monotonic() + 20
            while True:
                # pg_stat_activity is read once per transaction unless its snapshot is cleared.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                if cursor.fetchone()[0] == 2:
                    break
                assert time.monotonic() < deadline, "the webhooks never reached the alert group"
                time.sleep(0.02)
        results = [future.result(timeout=30) for future in futures]

    incident = Incident.objects.get()
    assert sorted(status for status, _ in results) == [200, 201]
    assert {body["incident"] for _, body in results} == {incident.reference}
    assert AlertGroup.objects.get().incident == incident
    assert incident.events.filter(kind=EventKind.DECLARED).count() == 1
