"""The update cadence: each severity has a time within which the next stakeholder update is due
(`COMMS_CADENCE_MINUTES`). Any update, internal or public, starts the clock again; before the
first one, the clock starts at the declaration.

An incident is under the cadence while it is active, and also while its public face is still
unresolved (resolved inside but not yet told outside). When it is overdue, the board says so, and
the periodic check reminds its coordinator by mail once per overdue period: the reminder's unique
(incident, due time) is what stops a repeat; posting an update or changing the severity starts a
new period.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from apps.comms.mailing import absolute
from apps.comms.models import CadenceReminder, PublicIncident, Update
from apps.core.dispatch import enqueue
from apps.incidents.models import Incident, Severity, TimelineEntry
from apps.incidents.services import timeline_record

logger = logging.getLogger(__name__)

TIMELINE_KIND = TimelineEntry.Kind.COMMUNICATION


def cadence_minutes(severity: str) -> int:
    return int(settings.COMMS_CADENCE_MINUTES[severity])


@dataclass(frozen=True)
class Cadence:
    incident_id: int
    severity: str
    minutes: int
    last_update_at: datetime | None
    due_at: datetime

    def overdue(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.due_at

    @property
    def reason(self) -> str:
        return f"Communications overdue ({Severity(self.severity).label}: an update every {self.minutes} min)"


def cadences(incidents: Sequence[Incident]) -> dict[int, Cadence]:
    """When each incident's next update is due, in one query for all of them."""
    if not incidents:
        return {}
    last = dict(
        Update.objects.filter(incident_id__in=[i.pk for i in incidents])
        .order_by()
        .values("incident_id")
        .annotate(last=Max("created_at"))
        .values_list("incident_id", "last")
    )
    result = {}
    for incident in incidents:
        minutes = cadence_minutes(incident.severity)
        last_at = last.get(incident.pk)
        start = max(last_at, incident.declared_at) if last_at else incident.declared_at
        result[incident.pk] = Cadence(
            incident_id=incident.pk,
            severity=incident.severity,
            minutes=minutes,
            last_update_at=last_at,
            due_at=start + timedelta(minutes=minutes),
        )
    return result


def under_cadence() -> QuerySet[Incident]:
    """Active incidents, and those whose public face still says they are not resolved."""
    unresolved_publicly = Q(public_incident__isnull=False) & ~Q(public_incident__status=PublicIncident.Status.RESOLVED)
    return Incident.objects.filter(Q(status__in=Incident.ACTIVE_STATUSES) | unresolved_publicly).select_related(
        "coordinator", "commander"
    )


def attention(incidents: Sequence[Incident]) -> dict[int, list[str]]:
    """The board's attention provider: one query for all the board's incidents."""
    now = timezone.now()
    return {pk: [cadence.reason] for pk, cadence in cadences(incidents).items() if cadence.overdue(now)}


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
            if incident.coordinator:
                who = f"coordinator {incident.coordinator.display_name} reminded"
            elif person:
                who = f"no coordinator: commander {person.display_name} reminded"
            else:
                who = "nobody to remind: choose a communication coordinator"
            timeline_record(
                incident_id=incident.pk,
                kind=TIMELINE_KIND,
                summary=f"Stakeholder update overdue (due {timezone.localtime(cadence.due_at):%H:%M %Z}); {who}",
            )
            if reminder.recipient:
                from apps.comms.tasks import send_reminder

                enqueue(send_reminder, reminder.pk)
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
