"""Migration 0009 carries the text timeline over to typed events: where the old words say what
happened, the entry becomes that kind with its values and references; the rest keep their words as
`legacy` events. Runs on SQLite and PostgreSQL alike.

The database is migrated back to 0008 (both the old `TimelineEntry` and the new `TimelineEvent`
exist), old-style rows are written through the historical models, and it is migrated forward
again; it is left fully migrated whatever happens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.accounts.models import User
from apps.incidents import events
from apps.incidents.models import EventKind, Incident, TimelineEvent
from tests.factories import UserFactory

BEFORE = [("incidents", "0008_timelineevent")]
T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
# The incidents kinds whose words the renderers give back exactly as the old text had them.
ROUND_TRIP = {
    EventKind.DECLARED,
    EventKind.STATUS_CHANGED,
    EventKind.SEVERITY_CHANGED,
    EventKind.ROLE_ASSIGNED,
    EventKind.DETAILS_CHANGED,
    EventKind.STEP_DONE,
    EventKind.STEP_SKIPPED,
    EventKind.STEP_REOPENED,
    EventKind.NOTE_ADDED,
    EventKind.NOTIFICATION_RECORDED,
    EventKind.NOTIFICATION_ACKNOWLEDGED,
    EventKind.LEGACY,
}


def _migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def old_apps(transactional_db: None) -> Iterator[Apps]:
    """The models as they were at incidents 0008, with the database migrated back to it."""
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        yield MigrationExecutor(connection).loader.project_state(BEFORE).apps
    finally:
        _migrate_to_latest()


@pytest.mark.django_db(transaction=True)
def test_old_text_entries_become_typed_events(old_apps: Apps) -> None:
    riley = UserFactory(username="riley", first_name="Riley", last_name="Responder")
    sam = UserFactory(username="sam", first_name="Sam", last_name="Second")
    morgan = UserFactory(username="morgan", first_name="Morgan", last_name="Manager", role=User.Role.MANAGER)
    OldIncident = old_apps.get_model("incidents", "Incident")
    OldItem = old_apps.get_model("incidents", "ChecklistItem")
    OldEntry = old_apps.get_model("incidents", "TimelineEntry")
    OldHost = old_apps.get_model("health", "Host")
    OldRun = old_apps.get_model("remediation", "ActionRun")

    db_down = OldIncident.objects.create(
        title="Primary DB down", scenario="database_failure", severity="sev1", declared_by_id=riley.pk
    )
    by_alert = OldIncident.objects.create(
        title="API 500s", scenario="system_outage", severity="sev2", declared_via="Alertmanager: HighErrorRate"
    )
    item = {
        title: OldItem.objects.create(incident=db_down, position=n, phase="initial_response", title=title).pk
        for n, title in enumerate(["Assess the situation", "Check database logs", "Restart database service"], 1)
    }
    run = OldRun.objects.create(
        action="restart_service",
        host=OldHost.objects.create(name="db-1"),
        incident=db_down,
        checklist_item_id=item["Restart database service"],
        requested_by_id=riley.pk,
    ).pk
    missing_run = run + 1000

    # (incident, old kind, old words, author, note body) → (kind, data, refs, actor)
    cases: list[tuple[Any, str, str, User | None, str, str, dict[str, Any], dict[str, int]]] = [
        (
            db_down,
            "declared",
            "Declared SEV1 Database Failure: Primary DB down",
            riley,
            "",
            EventKind.DECLARED,
            {"severity": "sev1", "scenario": "database_failure", "title": "Primary DB down", "via": ""},
            {},
        ),
        (
            db_down,
            "status",
            "Status: Investigating → Mitigating",
            sam,
            "",
            EventKind.STATUS_CHANGED,
            {"from": "investigating", "to": "mitigating"},
            {},
        ),
        (
            db_down,
            "severity",
            "Severity: SEV1 → SEV2",
            riley,
            "",
            EventKind.SEVERITY_CHANGED,
            {"from": "sev1", "to": "sev2"},
            {},
        ),
        (
            db_down,
            "role",
            "Commander: Sam Second",
            riley,
            "",
            EventKind.ROLE_ASSIGNED,
            {"role": "commander", "user": None, "name": "Sam Second"},
            {},
        ),
        (
            db_down,
            "role",
            "Communication coordinator: nobody",
            riley,
            "",
            EventKind.ROLE_ASSIGNED,
            {"role": "coordinator", "user": None, "name": ""},
            {},
        ),
        (
            db_down,
            "details",
            "Title: Primary DB refuses connections",
            sam,
            "",
            EventKind.DETAILS_CHANGED,
            {"field": "title", "value": "Primary DB refuses connections"},
            {},
        ),
        (
            db_down,
            "checklist",
            "Done: Assess the situation",
            sam,
            "",
            EventKind.STEP_DONE,
            {"title": "Assess the situation"},
            {"item": item["Assess the situation"]},
        ),
        (
            db_down,
            "checklist",
            "Skipped: Check database logs — Logs are on the dead disk",
            riley,
            "",
            EventKind.STEP_SKIPPED,
            {"title": "Check database logs", "reason": "Logs are on the dead disk"},
            {"item": item["Check database logs"]},
        ),
        (
            db_down,
            "checklist",
            "Reopened step: Check database logs",
            riley,
            "",
            EventKind.STEP_REOPENED,
            {"title": "Check database logs"},
            {"item": item["Check database logs"]},
        ),
        (
            db_down,
            "checklist",
            f"Done: Restart database service (verified by run #{run})",
            riley,
            "",
            EventKind.STEP_DONE,
            {"title": "Restart database service", "verified": True},
            {"item": item["Restart database service"], "run": run},
        ),
        (
            db_down,
            "checklist",
            "Done: Call the vendor",  # a step no longer on the checklist: no reference to guess
            sam,
            "",
            EventKind.STEP_DONE,
            {"title": "Call the vendor"},
            {},
        ),
        (
            db_down,
            "notification",
            "Notified Pat Planner (Project Manager) by phone call: Left a voicemail",
            riley,
            "",
            EventKind.NOTIFICATION_RECORDED,
            {"recipient": "Pat Planner (Project Manager)", "method": "phone", "note": "Left a voicemail"},
            {},
        ),
        (
            db_down,
            "notification",
            "Pat Planner (Project Manager) acknowledged",
            sam,
            "",
            EventKind.NOTIFICATION_ACKNOWLEDGED,
            {"recipient": "Pat Planner (Project Manager)"},
            {},
        ),
        (
            db_down,
            "note",
            "Note: Failover started",
            sam,
            "Failover started\n\nby **Sam**",
            EventKind.NOTE_ADDED,
            {},
            {},
        ),
        (
            db_down,
            "action",
            f"Requested (awaiting approval): Restart postgresql on db-1 (run #{run})",
            riley,
            "",
            EventKind.RUN_REQUESTED,
            {"awaiting_approval": True},
            {"run": run},
        ),
        (
            db_down,
            "action",
            f"Approved: Restart postgresql on db-1 (run #{run})",
            morgan,
            "",
            EventKind.RUN_APPROVED,
            {},
            {"run": run},
        ),
        # What the words do not say for certain stays words.
        (
            db_down,
            "checklist",
            f"Done: Restart database service (verified by run #{missing_run})",
            riley,
            "",
            EventKind.LEGACY,
            {},
            {},
        ),
        (db_down, "details", "Impact updated: Checkout is down", sam, "", EventKind.LEGACY, {}, {}),
        (db_down, "status", "Status: Investigating → On fire", sam, "", EventKind.LEGACY, {}, {}),
        (db_down, "escalation", "Paged Dana by SMS; no answer yet", None, "", EventKind.LEGACY, {}, {}),
        (
            by_alert,
            "declared",
            "Declared SEV2 System Outage: API 500s (by Alertmanager: HighErrorRate)",
            None,
            "",
            EventKind.DECLARED,
            {
                "severity": "sev2",
                "scenario": "system_outage",
                "title": "API 500s",
                "via": "Alertmanager: HighErrorRate",
            },
            {},
        ),
    ]
    for n, (incident, kind, words, author, body, *_) in enumerate(cases):
        OldEntry.objects.create(
            incident=incident,
            kind=kind,
            summary=words,
            author_id=author.pk if author else None,
            created_at=T0 + timedelta(minutes=n),
            body=body,
        )

    _migrate_to_latest()

    migrated = list(TimelineEvent.objects.order_by("at", "pk"))
    assert len(migrated) == len(cases)
    for n, (event, case) in enumerate(zip(migrated, cases, strict=True)):
        incident, _, words, author, body, kind, data, refs = case
        assert (event.incident_id, event.at) == (incident.pk, T0 + timedelta(minutes=n)), words
        assert (event.kind, event.data, events.refs_of(event)) == (kind, data, refs), words
        assert (event.actor, event.component) == ((author, "") if author else (None, "system")), words
        assert event.body == body, words
        assert event.legacy_text == (words if kind == EventKind.LEGACY else ""), words
        if kind in ROUND_TRIP:
            assert events.render(event) == words
    assert Incident.objects.get(pk=db_down.pk).events.count() == len(cases) - 1


def test_the_database_is_left_fully_migrated(transactional_db: None) -> None:
    """Runs after the test above (file order): the tests that follow find the schema they expect."""
    executor = MigrationExecutor(connection)

    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    tables = connection.introspection.table_names()
    assert "incidents_timelineevent" in tables
    assert "incidents_timelineentry" not in tables
