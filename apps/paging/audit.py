"""The auditor: nothing that should have been paged stays unpaged because a worker, beat or a
message was lost. Run periodically by beat (`PAGING_AUDIT_SECONDS`); it says on the timeline
what it caught up, and a step overdue by more than `PAGING_OVERDUE_WARN_MINUTES` also leaves a
warning on the board."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.incidents.models import TimelineEntry
from apps.incidents.services import timeline_record
from apps.paging import engine
from apps.paging.delivery import page_deliver
from apps.paging.models import Page

logger = logging.getLogger(__name__)


def sending_lease() -> timedelta:
    """How long a page may stay "sending" before its worker is presumed lost: two channels, each
    with its timeout, and a margin."""
    per_channel = max(settings.PAGING_HTTP_TIMEOUT_SECONDS, settings.EMAIL_TIMEOUT)
    return timedelta(seconds=2 * per_channel + 60)


def escalations_audit() -> engine.AuditReport:
    now = timezone.now()
    report = engine.AuditReport()
    for step_id in engine.overdue_step_ids(now):
        outcome = engine.step_run(step_id=step_id, by_auditor=True)
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
            _say(page, "was never sent (its worker stopped); the auditor sent it")

    # Pages whose worker died while sending: sending again may repeat one message, which is
    # better than a page that is never delivered.
    stuck = Page.objects.filter(state=Page.State.SENDING, claimed_at__lt=now - sending_lease())
    for page_id in stuck.values_list("pk", flat=True):
        if Page.objects.filter(pk=page_id, state=Page.State.SENDING).update(state=Page.State.PENDING):
            page = page_deliver(page_id=page_id)
            if page is not None:
                report.pages_delivered.append(page_id)
                _say(page, "was interrupted while sending (its worker stopped); the auditor sent it again")

    for incident_id in engine.unstarted_incident_ids(now):
        try:
            engine.escalation_start(incident_id=incident_id, note="Auditor: paging had not started for this incident.")
        except engine.PagingError:
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


def _say(page: Page, what: str) -> None:
    timeline_record(
        incident_id=page.incident_id,
        kind=TimelineEntry.Kind.ESCALATION,
        summary=f"Auditor: the page to {page.recipient} {what}.",
    )
