"""Celery tasks of paging: thin. Each loads rows by id and calls a service that claims its work."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.core.jobs import enqueue
from apps.paging.services import audit, delivery, escalation, verification

logger = logging.getLogger(__name__)


@shared_task(name="paging.run_escalation_step", ignore_result=True)
def run_escalation_step(step_id: int) -> str:
    """Run the step if it is still the active one. Its pages go out as soon as it commits; any
    still pending then (a delivery that raised) are delivered here."""
    outcome = escalation.step_run(step_id=step_id)
    if outcome.status == "early":
        enqueue("paging.run_escalation_step", step_id, countdown=outcome.retry_in)
    for page_id in outcome.page_ids:
        delivery.page_deliver(page_id=page_id)
    return outcome.status


@shared_task(name="paging.audit_escalations", ignore_result=True)
def audit_escalations() -> dict[str, list[int]]:
    report = audit.escalations_audit()
    return {
        "steps_run": report.steps_run,
        "pages_delivered": report.pages_delivered,
        "escalations_started": report.escalations_started,
    }


@shared_task(name="paging.send_verification_reminder", ignore_result=True)
def send_verification_reminder() -> str:
    outcome = verification.verification_reminder_send()
    logger.info("verification reminder: %s", outcome.reason)
    return outcome.reason
