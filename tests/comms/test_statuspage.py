"""The Statuspage-compatible JSON, held against a captured Statuspage summary.json document."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.comms.models import Component, ComponentState
from apps.comms.services.maintenance import maintenance_announce
from apps.incidents.models import Incident
from tests.comms.conftest import post

pytestmark = pytest.mark.django_db
State = ComponentState
CAPTURED = json.loads((Path(__file__).parent / "fixtures" / "statuspage_summary.json").read_text())
NOW = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)

COMPONENT_STATES = {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
INDICATORS = {"none", "minor", "major", "critical", "maintenance"}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical", "maintenance"}


def assert_same_shape(ours: Any, captured: Any, where: str = "$") -> None:
    """The same keys at every level and values of the same JSON type (null is allowed where the
    captured document has a value, and a value where it has null: those fields are nullable)."""
    if captured is None or ours is None:
        return
    if isinstance(captured, dict):
        assert isinstance(ours, dict), f"{where}: expected an object"
        assert set(ours) == set(captured), f"{where}: keys {sorted(set(ours) ^ set(captured))} differ"
        for key, value in captured.items():
            assert_same_shape(ours[key], value, f"{where}.{key}")
    elif isinstance(captured, list):
        assert isinstance(ours, list), f"{where}: expected an array"
        if captured:
            for index, item in enumerate(ours):
                assert_same_shape(item, captured[0], f"{where}[{index}]")
    else:
        assert type(ours) is type(captured), f"{where}: {type(ours).__name__} is not {type(captured).__name__}"


def assert_timestamp(value: str) -> None:
    assert value.endswith("Z"), value
    assert len(value) == 24, value
    datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")


def _get(path_name: str) -> dict[str, Any]:
    response = Client().get(reverse(path_name))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    return dict(response.json())


@pytest.fixture
def busy(comms: User, incident: Incident, components: dict[str, Component]) -> dict[str, Component]:
    """An unresolved public incident with two updates, and a maintenance window announced."""
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        post(comms, incident, components, title="Records cannot be saved", states={"Database": State.MAJOR_OUTAGE})
    with time_machine.travel(NOW - timedelta(minutes=30), tick=False):
        post(
            comms,
            incident,
            components,
            status="identified",
            title="Records cannot be saved",
            states={"Database": State.PARTIAL_OUTAGE},
        )
        maintenance_announce(
            user=comms,
            title="Mail server upgrade",
            body="Mail may be delayed by a few minutes.",
            starts_at=NOW + timedelta(days=1),
            ends_at=NOW + timedelta(days=1, hours=1),
            components=[components["Email"]],
        )
    return components


def test_summary_has_the_shape_of_the_captured_statuspage_document(busy: dict[str, Component]) -> None:
    with time_machine.travel(NOW, tick=False):
        summary = _get("comms:api_summary")
    assert_same_shape(summary, CAPTURED)
    assert summary["incidents"], "the incidents were compared"
    assert summary["scheduled_maintenances"], "the maintenances were compared"

    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
    assert summary["page"]["url"] == "http://127.0.0.1:8000/status/"
    assert_timestamp(summary["page"]["updated_at"])
    states = {c["name"]: c["status"] for c in summary["components"]}
    assert states == {
        "Website": "operational",
        "Application": "operational",
        "Database": "partial_outage",
        "Email": "operational",
    }
    [incident] = summary["incidents"]
    assert (incident["name"], incident["status"], incident["impact"]) == (
        "Records cannot be saved",
        "identified",
        "critical",
    )
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "investigating"]  # newest first
    assert incident["incident_updates"][1]["affected_components"] == [
        {"code": busy["Database"].code, "name": "Database", "old_status": "operational", "new_status": "major_outage"}
    ]
    assert incident["shortlink"] == f"http://127.0.0.1:8000/status/incidents/{incident['id']}/"
    [window] = summary["scheduled_maintenances"]
    assert (window["name"], window["status"], window["impact"]) == ("Mail server upgrade", "scheduled", "maintenance")
    assert window["scheduled_for"] == "2026-05-07T12:00:00.000Z"


def test_every_document_keeps_statuspage_vocabulary(busy: dict[str, Component]) -> None:
    with time_machine.travel(NOW, tick=False):
        docs = {
            name: _get(f"comms:api_{name}")
            for name in (
                "summary",
                "status",
                "components",
                "incidents",
                "unresolved",
                "maintenances",
                "upcoming",
                "active",
            )
        }
    for name, doc in docs.items():
        assert_same_shape(doc["page"], CAPTURED["page"], f"{name}.page")
    assert_same_shape(docs["status"], {k: CAPTURED[k] for k in ("page", "status")})
    assert_same_shape(docs["components"], {k: CAPTURED[k] for k in ("page", "components")})
    assert_same_shape(docs["incidents"], {k: CAPTURED[k] for k in ("page", "incidents")})
    assert_same_shape(docs["unresolved"], {k: CAPTURED[k] for k in ("page", "incidents")})
    assert_same_shape(docs["maintenances"], {k: CAPTURED[k] for k in ("page", "scheduled_maintenances")})
    assert docs["status"]["status"]["indicator"] in INDICATORS
    assert {c["status"] for c in docs["components"]["components"]} <= COMPONENT_STATES
    for incident in docs["incidents"]["incidents"]:
        assert incident["status"] in INCIDENT_STATUSES
        assert incident["impact"] in IMPACTS
        for update in incident["incident_updates"]:
            assert update["status"] in INCIDENT_STATUSES
            assert_timestamp(update["created_at"])
    for window in docs["maintenances"]["scheduled_maintenances"]:
        assert window["status"] in MAINTENANCE_STATUSES
    assert len(docs["upcoming"]["scheduled_maintenances"]) == 1
    assert docs["active"]["scheduled_maintenances"] == []


def test_resolved_incidents_leave_unresolved_but_stay_in_incidents(
    comms: User, busy: dict[str, Component], incident: Incident
) -> None:
    with time_machine.travel(NOW, tick=False):
        post(comms, incident, busy, status="resolved", body="Fixed.", states={"Database": State.OPERATIONAL})
        assert _get("comms:api_unresolved")["incidents"] == []
        [resolved] = _get("comms:api_incidents")["incidents"]
        summary = _get("comms:api_summary")
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] == "2026-05-06T12:00:00.000Z"
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert {c["status"] for c in summary["components"]} == {"operational"}


@pytest.mark.parametrize(
    ("state", "indicator", "description"),
    [
        (State.DEGRADED_PERFORMANCE, "minor", "Partially Degraded Service"),
        (State.PARTIAL_OUTAGE, "major", "Partial System Outage"),
        (State.MAJOR_OUTAGE, "critical", "Major System Outage"),
    ],
)
def test_the_indicator_follows_the_worst_component(
    comms: User, incident: Incident, components: dict[str, Component], state: str, indicator: str, description: str
) -> None:
    post(comms, incident, components, states={"Website": state})
    assert _get("comms:api_status")["status"] == {"indicator": indicator, "description": description}


def test_a_maintenance_window_puts_its_components_under_maintenance_by_itself(
    comms: User, components: dict[str, Component]
) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        maintenance_announce(
            user=comms,
            title="Database upgrade",
            body="Read-only for an hour.",
            starts_at=NOW + timedelta(hours=1),
            ends_at=NOW + timedelta(hours=2),
            components=[components["Database"]],
        )
        assert _get("comms:api_status")["status"]["indicator"] == "none"
        clock.move_to(NOW + timedelta(hours=1, minutes=1))
        states = {c["name"]: c["status"] for c in _get("comms:api_components")["components"]}
        assert states["Database"] == "under_maintenance"
        assert _get("comms:api_status")["status"] == {
            "indicator": "maintenance",
            "description": "Service Under Maintenance",
        }
        [active] = _get("comms:api_active")["scheduled_maintenances"]
        assert active["status"] == "in_progress"
        assert [u["status"] for u in active["incident_updates"]] == ["in_progress", "scheduled"]
        clock.move_to(NOW + timedelta(hours=2, minutes=1))
        states = {c["name"]: c["status"] for c in _get("comms:api_components")["components"]}
        assert states["Database"] == "operational"
        [done] = _get("comms:api_maintenances")["scheduled_maintenances"]
        assert done["status"] == "completed"


def test_responses_are_cached_and_rebuilt_when_something_public_changes(
    comms: User,
    incident: Incident,
    components: dict[str, Component],
    django_assert_num_queries: Callable[..., Any],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    first = Client().get(reverse("comms:api_summary"))
    with django_assert_num_queries(0):
        again = Client().get(reverse("comms:api_summary"))
    assert again.content == first.content
    assert Client().get(reverse("comms:api_summary"), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304

    with django_capture_on_commit_callbacks(execute=True):
        post(comms, incident, components, title="Records cannot be saved")
    assert _get("comms:api_summary")["incidents"][0]["name"] == "Records cannot be saved"


def test_the_query_count_does_not_grow_with_incidents(
    comms: User, responder: User, components: dict[str, Component]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.comms import publiccache
    from tests.factories import declare_incident

    def count() -> int:
        publiccache.invalidate_now()
        with CaptureQueriesContext(connection) as queries:
            assert Client().get(reverse("comms:status")).status_code == 200
        publiccache.invalidate_now()
        with CaptureQueriesContext(connection) as json_queries:
            _get("comms:api_summary")
        return len(queries) * 1000 + len(json_queries)

    def add(n: int) -> None:
        for i in range(n):
            incident = declare_incident(responder, title=f"Incident {i}")
            post(comms, incident, components, states={"Website": State.DEGRADED_PERFORMANCE})
            if i % 2:
                post(comms, incident, components, status="resolved", states={"Website": State.OPERATIONAL})
        maintenance_announce(
            user=comms,
            title="Upgrade",
            body="Short.",
            starts_at=timezone.now() + timedelta(days=1),
            ends_at=timezone.now() + timedelta(days=1, hours=1),
            components=[components["Email"]],
        )

    add(2)
    few = count()
    add(6)
    assert count() == few
