"""The words of the events health records, rendered when read (Alertmanager's signals and a
critical reading attached by hand), and the link of an event's host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from apps.accounts.models import User
from apps.health import services
from apps.health.models import Host, Probe, State
from apps.incidents.events import kinds_without_renderer, links, render, with_related
from apps.incidents.models import Component, EventKind, TimelineEvent
from tests.factories import declare_incident
from tests.health.conftest import record

TITLE = "PostgresDown: PostgreSQL is down"


def _event(kind: EventKind, data: dict[str, Any], **refs: Any) -> TimelineEvent:
    return TimelineEvent(incident_id=1, kind=kind, component=Component.WEBHOOK, data=data, **refs)


def test_every_kind_health_records_has_words() -> None:
    missing = kinds_without_renderer()
    assert not {EventKind.SIGNAL_RECEIVED, EventKind.ALERT_RESOLVED, EventKind.SIGNAL_ATTACHED} & set(missing)


@pytest.mark.parametrize(
    ("alerts", "words"),
    [
        (1, f"Alertmanager: {TITLE} is firing again (1 alert)"),
        (3, f"Alertmanager: {TITLE} is firing again (3 alerts)"),
    ],
)
def test_a_group_firing_again_reads_with_its_alert_count(alerts: int, words: str) -> None:
    event = _event(EventKind.SIGNAL_RECEIVED, {"title": TITLE, "status": "firing", "alerts": alerts, "labels": {}})
    assert render(event) == words


def test_a_resolved_group_reads_as_resolved() -> None:
    event = _event(EventKind.ALERT_RESOLVED, {"title": TITLE, "status": "resolved", "labels": {}})
    assert render(event) == f"Alertmanager: {TITLE} resolved"


def test_an_attached_signal_reads_with_its_probe_host_and_summary() -> None:
    host = Host(pk=5, name="web-1")
    event = _event(
        EventKind.SIGNAL_ATTACHED,
        {"probe": "cpu", "state": "critical", "value": 97.5, "summary": "97.5% busy", "taken_at": ""},
        host=host,
    )
    assert render(event) == "Signal attached: CPU critical on web-1 — 97.5% busy"
    assert links(event) == [("web-1", reverse("health:host", args=["web-1"]))]


@pytest.mark.django_db
def test_the_timeline_words_attached_signals_without_a_query_each(
    responder: User, django_assert_num_queries: Callable[..., Any]
) -> None:
    incident = declare_incident(responder)
    for name in ("web-1", "web-2", "db-1"):
        host = Host.objects.create(name=name)
        sample = record(host, Probe.CPU, State.CRITICAL, 99.0, "99% busy")
        services.signal_attach(incident_id=incident.pk, sample=sample, user=responder)

    with django_assert_num_queries(1):
        events = list(with_related(incident.events.filter(kind=EventKind.SIGNAL_ATTACHED).order_by("pk")))
        words = [render(event) for event in events]
        hosts = [links(event) for event in events]

    assert words == [f"Signal attached: CPU critical on {name} — 99% busy" for name in ("web-1", "web-2", "db-1")]
    assert [found[0][0] for found in hosts] == ["web-1", "web-2", "db-1"]
