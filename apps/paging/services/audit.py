"""The auditor: nothing that should have been paged stays unpaged because a worker, beat or a
message was lost. Run periodically by beat (`PAGING_AUDIT_SECONDS`); it records on the timeline
what it caught up (as the auditor), and a step overdue by more than `PAGING_OVERDUE_WARN_MINUTES`
also leaves a warning on the board."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.incidents.events import event_record
from apps.incidents.models import Component, EventKind
from apps.paging import selectors
from apps.paging.models import Page
from apps.paging.services.delivery import page_deliver
from apps.paging.services.errors import PagingError
from apps.paging.services.escalation import escalation_start, step_run

logger = logging.getLogger(__name__)


@dataclass
class AuditReport:
    steps_run: list[int] = field(default_factory=list)
    pages_delivered: list[int] = field(default_factory=list)
    escalations_started: list[int] = field(default_factory=list)


def sending_lease() -> timedelta:
    """How long a page may stay "sending" before its worker is presumed lost: two channels, each
    with its timeout, and a margin."""
    per_channel = max(settings.PAGING_HTTP_TIMEOUT_SECONDS, settings.MAIL_TIMEOUT_SECONDS)
    return timedelta(seconds=2 * per_channel + 60)


def escalations_audit() -> AuditReport:
    now = timezone.now()
    report = AuditReport()
    for step_id in selectors.overdue_step_ids(now):
        outcome = step_run(step_id=step_id, by_auditor=True)
        if outcome.status == "ran":
            report.steps_run.append(step_id)
        for page_id in outcome.page_ids:
            page_deliver(page_id=page_id)
            report.pages_delivered.append(page_id)

    grace = timedelta(seconds=settings.PAGING_AUDIT_GRACE_SECONDS)
    # Pages written by a step whose worker stopped before delivering them.
    for page_id in Page.objects.filter(state=Page.State.PENDING, created_at__lt=now - grace).values_list(
        "pk", flat=True
    ):
        page = page_deliver(page_id=page_id)
        if page is not None:
            report.pages_delivered.append(page_id)
            _record(page, "unsent")

    # Pages whose worker died while sending: sending again may repeat one message, which is
    # better than a page that is never delivered.
    stuck = Page.objects.filter(state=Page.State.SENDING, claimed_at__lt=now - sending_lease())
    for page_id in stuck.values_list("pk", flat=True):
        released = Page.objects.filter(
            pk=page_id, state__in=Page.TRANSITIONS.sources(Page.State.PENDING), claimed_at__lt=now - sending_lease()
        ).update(state=Page.State.PENDING)
        if released:
            page = page_deliver(page_id=page_id)
            if page is not None:
                report.pages_delivered.append(page_id)
                _record(page, "interrupted")

    for incident_id in selectors.unstarted_incident_ids(now):
        try:
            escalation_start(incident_id=incident_id, by_auditor=True)
        except PagingError:
            continue
        report.escalations_started.append(incident_id)

    if report.steps_run or report.pages_delivered or report.escalations_started:
        logger.warning(
            "paging auditor caught up: steps %s, pages %s, escalations started %s",
            report.steps_run,
            report.pages_delivered,
            report.escalations_started,
        )
    return report


def _record(page: Page, what: str) -> None:
    event_record(
        incident_id=page.incident_id,
        kind=EventKind.PAGE_AUDITED,
        component=Component.AUDITOR,
        page=page,
        data={"recipient": page.recipient, "what": what},
    )
