"""The words of paging's events, rendered from kind, references and data alone (no query): the
sentences the timeline showed before it was typed."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.incidents.events import kinds_without_renderer, links, render
from apps.incidents.models import Component, EventKind, TimelineEvent

PAGING_KINDS = [
    EventKind.PAGING_STARTED,
    EventKind.PAGING_STOPPED,
    EventKind.PAGE_SENT,
    EventKind.PAGE_FAILED,
    EventKind.PAGE_AUDITED,
    EventKind.ESCALATION_STEP,
    EventKind.ESCALATED,
    EventKind.REPAGED,
    EventKind.NOBODY_TO_PAGE,
    EventKind.PAGING_EXHAUSTED,
    EventKind.ESCALATION_LATE,
    EventKind.ACKNOWLEDGED,
]
DBA = [{"level": 2, "name": "Database Administrator"}]
ROUTE = ["System Administrator", "Database Administrator", "Technical Lead", "Project Manager"]
DANA = "Dana Dba (Database Administrator)"


def event(kind: EventKind, component: str = Component.ESCALATION, /, **data: Any) -> TimelineEvent:
    return TimelineEvent(incident_id=12, kind=kind, component=component, data=data)


def test_every_paging_kind_has_words() -> None:
    assert not set(PAGING_KINDS) & set(kinds_without_renderer())


@pytest.mark.parametrize(
    ("made", "words"),
    [
        (
            event(EventKind.PAGING_STARTED, first_level=1, last_level=2, route=ROUTE, wide=True, severity="sev1"),
            "Paging started: first page to level 2. Database Administrator (SEV1: with every level above it). "
            "Escalation path copied: System Administrator → Database Administrator → Technical Lead → "
            "Project Manager.",
        ),
        (
            event(EventKind.PAGING_STARTED, first_level=1, last_level=1, route=ROUTE[:1], wide=False, severity="sev3"),
            "Paging started: first page to level 1. System Administrator. "
            "Escalation path copied: System Administrator.",
        ),
        (
            event(
                EventKind.PAGING_STARTED,
                Component.AUDITOR,
                first_level=1,
                last_level=1,
                route=ROUTE[:1],
                wide=False,
                severity="sev3",
            ),
            "Auditor: paging had not started for this incident. Paging started: first page to level 1. "
            "System Administrator. Escalation path copied: System Administrator.",
        ),
    ],
)
def test_paging_started(made: TimelineEvent, words: str) -> None:
    assert render(made) == words


def test_paging_stopped() -> None:
    made = event(EventKind.PAGING_STOPPED, reason="incident_over", status="resolved")
    assert render(made) == "Paging stopped: INC-12 is resolved."


def test_page_sent() -> None:
    made = event(
        EventKind.PAGE_SENT,
        recipient=DANA,
        channel="email",
        address="dana@example.com",
        priority="primary",
        outcome="sent",
    )
    assert render(made) == (
        "Paged Dana Dba (Database Administrator) by email to dana@example.com (primary): "
        "sent (accepted by the mail server)."
    )
    chat = event(
        EventKind.PAGE_SENT,
        recipient=DANA,
        channel="webhook",
        address="https://chat/h",
        priority="secondary",
        outcome="delivered",
    )
    assert render(chat) == (
        "Paged Dana Dba (Database Administrator) by chat webhook (slack/mattermost) to https://chat/h (secondary): "
        "delivered to the gateway."
    )


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            {
                "channel": "email",
                "address": "dana@example.com",
                "priority": "primary",
                "detail": "refused",
                "fallback": True,
            },
            "Page to Dana Dba (Database Administrator) by email to dana@example.com (primary) FAILED: refused. "
            "Trying the next channel.",
        ),
        (
            {"channel": "sms", "address": "+44 20", "priority": "secondary", "detail": "HTTP 500", "fallback": False},
            "Page to Dana Dba (Database Administrator) by sms to +44 20 (secondary) FAILED: HTTP 500.",
        ),
        (
            {"every_channel": True},
            "PAGE FAILED on every channel: Dana Dba (Database Administrator) was not reached. Call them, or escalate.",
        ),
        (
            {"no_channel": True, "every_channel": True},
            "PAGE FAILED: Dana Dba (Database Administrator) has no paging channel (email, webhook or SMS). "
            "Add one on the contact's paging channels.",
        ),
    ],
)
def test_page_failed(data: dict[str, Any], words: str) -> None:
    assert render(event(EventKind.PAGE_FAILED, recipient=DANA, **data)) == words


def test_page_audited() -> None:
    unsent = event(EventKind.PAGE_AUDITED, Component.AUDITOR, recipient=DANA, what="unsent")
    assert render(unsent) == (
        "Auditor: the page to Dana Dba (Database Administrator) was never sent (its worker stopped); "
        "the auditor sent it."
    )
    interrupted = event(EventKind.PAGE_AUDITED, Component.AUDITOR, recipient=DANA, what="interrupted")
    assert render(interrupted).endswith(
        "was interrupted while sending (its worker stopped); the auditor sent it again."
    )


def test_escalation_step() -> None:
    timeout = event(
        EventKind.ESCALATION_STEP,
        kind="timeout",
        levels=[{"level": 3, "name": "Technical Lead"}],
        names=["Terry Lead"],
        timeout_seconds=900,
        round=1,
        again=False,
    )
    assert render(timeout) == (
        "Escalation after the timeout: paging level 3. Technical Lead: Terry Lead. "
        "Waiting 15 min for an acknowledgement."
    )
    repeat = event(
        EventKind.ESCALATION_STEP,
        kind="repeat",
        levels=[*DBA, {"level": 3, "name": "Technical Lead"}],
        names=["Dana Dba", "Terry Lead"],
        timeout_seconds=90,
        round=2,
        again=True,
    )
    assert render(repeat) == (
        "Path paged again: paging levels 2. Database Administrator, 3. Technical Lead (path paged again, round 2): "
        "Dana Dba, Terry Lead. Waiting 90 s for an acknowledgement."
    )


def test_escalated_and_repaged_by_hand() -> None:
    assert (
        render(event(EventKind.ESCALATED, levels=DBA))
        == "Escalated by hand: paging level 2. Database Administrator now."
    )
    assert render(event(EventKind.REPAGED, levels=DBA)) == "Re-paging level 2. Database Administrator by hand."


def test_nobody_to_page() -> None:
    assert render(event(EventKind.NOBODY_TO_PAGE, levels=DBA)) == (
        "Nobody to page at level 2. Database Administrator: moving on."
    )
    assert render(event(EventKind.NOBODY_TO_PAGE, empty_path=True)) == "Nobody paged: the escalation path is empty."


def test_paging_exhausted() -> None:
    assert render(event(EventKind.PAGING_EXHAUSTED, rounds=2)) == (
        "Nobody acknowledged after the whole escalation path (paged 2 times): the incident is UNACKNOWLEDGED. "
        "Escalate or re-page by hand, or call someone."
    )


def test_escalation_late() -> None:
    made = event(EventKind.ESCALATION_LATE, Component.AUDITOR, seconds=240, step_number=2, step_kind="timeout")
    assert render(made) == (
        "Auditor: escalation step 2 (escalation after the timeout) was 4 min overdue "
        "(a worker or beat was down, or its message was lost); running it now."
    )


def test_acknowledged() -> None:
    made = event(EventKind.ACKNOWLEDGED, name="Dana Dba", via="acknowledgement link")
    assert render(made) == "Dana Dba acknowledged the page (acknowledgement link): escalation stopped."


def test_pages_and_steps_link_to_the_paging_panel() -> None:
    page_event = TimelineEvent(incident_id=12, kind=EventKind.PAGE_SENT, page_id=5, notification_id=9)
    assert ("page #5", "/incidents/12/#paging-page-5") in links(page_event)
    step_event = TimelineEvent(incident_id=12, kind=EventKind.ESCALATED, step_id=3)
    assert ("escalation", "/incidents/12/#paging") in links(step_event)


@pytest.mark.django_db
def test_rendering_never_queries() -> None:
    made = [event(kind, recipient=DANA, levels=DBA, route=ROUTE) for kind in PAGING_KINDS]
    with CaptureQueriesContext(connection) as queries:
        for one in made:
            render(one)
    assert len(queries) == 0
