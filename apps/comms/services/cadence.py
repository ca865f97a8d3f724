"""Reminding the coordinator when a stakeholder update is overdue (the cadence itself, when each
update is due, is read in `apps.comms.selectors`).

The periodic check reminds an overdue incident's coordinator by mail once per overdue period: the
reminder's unique (incident, due time) is what stops a repeat; posting an update or changing the
severity starts a new period.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.comms.links import absolute
from apps.comms.models import CadenceReminder
from apps.comms.selectors import Cadence, cadence_minutes, cadences, under_cadence
from apps.core.jobs import enqueue
from apps.incidents.events import event_record
from apps.incidents.models import Component, EventKind, Incident

logger = logging.getLogger(__name__)


def cadence_check(now: datetime | None = None) -> list[CadenceReminder]:
    """Remind the coordinator of every incident whose update is overdue, once per overdue period
    (the periodic task's work). Returns the reminders created now."""
    now = now or timezone.now()
    incidents = list(under_cadence())
    created = []
    for incident_id, cadence in cadences(incidents).items():
        if not cadence.overdue(now):
            continue
        incident = next(i for i in incidents if i.pk == incident_id)
        reminder = _remind(incident, cadence, now)
        if reminder is not None:
            created.append(reminder)
    return created


def _remind(incident: Incident, cadence: Cadence, now: datetime) -> CadenceReminder | None:
    person = incident.coordinator or incident.commander
    try:
        with transaction.atomic():
            reminder = CadenceReminder.objects.create(
                incident=incident, due_at=cadence.due_at, created_at=now, recipient=person.email if person else ""
            )
            role = "coordinator" if incident.coordinator else "commander"
            event_record(
                incident_id=incident.pk,
                kind=EventKind.UPDATE_OVERDUE,
                component=Component.CADENCE,
                data={
                    "due_at": cadence.due_at.isoformat(),
                    "reminded": {"id": person.pk, "name": person.display_name, "role": role} if person else None,
                },
            )
            if reminder.recipient:
                enqueue("comms.send_reminder", reminder.pk)
    except IntegrityError:
        return None  # this overdue period was already reminded
    return reminder


def reminder_send(reminder_id: int) -> bool:
    """Mail one reminder, once: the row is claimed by a conditional update."""
    now = timezone.now()
    claimed = CadenceReminder.objects.filter(pk=reminder_id, sent_at__isnull=True, error="").update(sent_at=now)
    if not claimed:
        return False
    reminder = CadenceReminder.objects.select_related("incident", "incident__coordinator").get(pk=reminder_id)
    incident = reminder.incident
    compose = absolute(reverse("comms:compose", args=[incident.pk]))
    body = (
        f"{incident.reference} {incident.title} ({incident.get_severity_display()}, "
        f"{incident.get_status_display().lower()}) needs a stakeholder update: one was due at "
        f"{timezone.localtime(reminder.due_at):%Y-%m-%d %H:%M %Z} "
        f"({incident.get_severity_display()} incidents get one every "
        f"{cadence_minutes(incident.severity)} minutes).\n\n"
        f"Post it here: {compose}\n"
    )
    if incident.coordinator is None:
        body += "\nThis incident has no communication coordinator: choose one on the incident page.\n"
    message = EmailMessage(
        subject=f"[{incident.reference}] Stakeholder update due",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[reminder.recipient],
        headers={"Auto-Submitted": "auto-generated"},
    )
    try:
        mailers.default.send_messages([message])
    except Exception as exc:
        logger.warning("cadence reminder %s not sent", reminder_id, exc_info=True)
        CadenceReminder.objects.filter(pk=reminder_id).update(sent_at=None, error=f"{type(exc).__name__}: {exc}"[:500])
        return False
    return True
