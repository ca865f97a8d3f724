"""Every state change of an incident, in one place each.

Each function runs in one transaction, writes its timeline entry in that transaction, and
announces the change to open pages after commit. Views, consumers, tasks and the admin all call
these; nothing else writes incidents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.contacts.models import Contact, EscalationLevel
from apps.core.transitions import TransitionError
from apps.incidents import lifecycle
from apps.incidents.events import event_record
from apps.incidents.live import announce_incident_changed
from apps.incidents.models import ChecklistItem, Component, EventKind, Incident, NotificationEntry, TimelineEvent
from apps.incidents.signals import incident_declared, incident_status_changed, notification_acknowledged
from apps.runbooks.models import Runbook

DEFAULT_ACK_TIMEOUT_MINUTES = 15


class IncidentConflict(Exception):
    """Someone else changed what this user was changing; nothing was saved."""


class IncidentRuleError(Exception):
    """The change breaks a rule of the incident (an illegal status move, a closed incident...)."""


def _locked(incident_id: int) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident_id)


def _person(user: User | None) -> str:
    return user.display_name if user else "nobody"


def incident_declare(
    *,
    declared_by: User | None,
    declared_via: str = "",
    title: str,
    scenario: str,
    severity: str,
    noticed_at: datetime | None = None,
    affected_components: str = "",
    impact: str = "",
    commander: User | None = None,
    coordinator: User | None = None,
    channel_url: str = "",
) -> Incident:
    """Open an incident; the scenario's runbook, between the shared Initial Response and
    Post-Emergency phases, becomes its checklist. The declarer commands until handed over; an
    incident declared by a monitoring alert (`declared_via`) starts with no commander."""
    now = timezone.now()
    with transaction.atomic():
        incident = Incident.objects.create(
            title=title,
            scenario=scenario,
            severity=severity,
            declared_by=declared_by,
            declared_via=declared_via,
            declared_at=now,
            noticed_at=noticed_at or now,
            affected_components=affected_components,
            impact=impact,
            commander=commander or declared_by,
            coordinator=coordinator,
            channel_url=channel_url,
            status_changed_at=now,
        )
        ChecklistItem.objects.bulk_create(_checklist_for(incident))
        event_record(
            incident_id=incident.pk,
            kind=EventKind.DECLARED,
            actor=declared_by,
            component=Component.WEBHOOK if declared_via else "",
            data={"severity": severity, "scenario": scenario, "title": title, "via": declared_via},
        )
    incident_id = incident.pk
    transaction.on_commit(lambda: incident_declared.send(sender=Incident, incident_id=incident_id))
    return incident


def _checklist_for(incident: Incident) -> list[ChecklistItem]:
    phases = [
        Runbook.objects.filter(kind=Runbook.Kind.INITIAL_RESPONSE).first(),
        Runbook.objects.filter(scenario=incident.scenario).first(),
        Runbook.objects.filter(kind=Runbook.Kind.POST_EMERGENCY).first(),
    ]
    items: list[ChecklistItem] = []
    for runbook in phases:
        if runbook is None:
            continue
        for step in runbook.steps.all():
            items.append(
                ChecklistItem(
                    incident=incident,
                    position=len(items) + 1,
                    phase=runbook.kind,
                    title=step.title,
                    guidance=step.guidance,
                    action=step.action,
                )
            )
    return items


def incident_change_status(*, incident_id: int, user: User, from_status: str, to_status: str) -> Incident:
    """Move the incident along its lifecycle. `from_status` is what the user saw: if someone moved
    it meanwhile, this raises `IncidentConflict` instead of overwriting their move."""
    with transaction.atomic():
        incident = _locked(incident_id)
        if incident.status != from_status:
            raise IncidentConflict(
                f"The status was changed to {incident.get_status_display().lower()} while you were looking; "
                "check it and try again."
            )
        error = lifecycle.transition_error(incident.status, to_status)
        if error:
            raise IncidentRuleError(error)
        now = timezone.now()
        incident.status = to_status
        incident.status_changed_at = now
        if to_status == Incident.Status.RESOLVED:
            incident.resolved_at = now
        elif to_status == Incident.Status.CLOSED:
            incident.closed_at = now
        elif to_status == Incident.Status.INVESTIGATING and from_status == Incident.Status.RESOLVED:
            incident.resolved_at = None
        incident.save(update_fields=["status", "status_changed_at", "resolved_at", "closed_at"])
        event_record(
            incident_id=incident.pk,
            kind=EventKind.STATUS_CHANGED,
            actor=user,
            data={"from": from_status, "to": to_status},
        )
    transaction.on_commit(
        lambda: incident_status_changed.send(
            sender=Incident, incident_id=incident_id, from_status=from_status, to_status=to_status
        )
    )
    return incident


# The fields `incident_update` may change, and the event kind of each.
EDITABLE_FIELDS: dict[str, EventKind] = {
    "title": EventKind.DETAILS_CHANGED,
    "severity": EventKind.SEVERITY_CHANGED,
    "noticed_at": EventKind.DETAILS_CHANGED,
    "affected_components": EventKind.DETAILS_CHANGED,
    "impact": EventKind.DETAILS_CHANGED,
    "channel_url": EventKind.DETAILS_CHANGED,
    "commander": EventKind.ROLE_ASSIGNED,
    "coordinator": EventKind.ROLE_ASSIGNED,
}


@dataclass(frozen=True)
class FieldChange:
    field: str
    seen: Any
    new: Any


def incident_update(*, incident_id: int, user: User, changes: list[FieldChange]) -> list[str]:
    """Change some fields of an incident, each only if it still holds what the user saw.

    Two responders editing different fields both succeed; editing the same field at once raises
    `IncidentConflict` for the later one, naming the fields. Returns the fields changed.
    """
    unknown = [change.field for change in changes if change.field not in EDITABLE_FIELDS]
    if unknown:
        raise ValueError(f"not editable: {', '.join(unknown)}")
    with transaction.atomic():
        incident = _locked(incident_id)
        if incident.status == Incident.Status.CLOSED:
            raise IncidentRuleError("A closed incident cannot be changed.")
        changes = [FieldChange(c.field, comparable(c.seen), comparable(c.new)) for c in changes]
        wanted = [c for c in changes if c.new != c.seen and comparable(getattr(incident, c.field)) != c.new]
        clashes = [c for c in wanted if comparable(getattr(incident, c.field)) != c.seen]
        if clashes:
            names = ", ".join(field_label(c.field) for c in clashes)
            raise IncidentConflict(
                f"Someone else changed {names} while you were editing. Nothing was saved: "
                "check their change and apply yours again."
            )
        for change in wanted:
            setattr(incident, change.field, change.new)
        if wanted:
            incident.save(update_fields=[c.field for c in wanted])
        for change in wanted:
            event_record(
                incident_id=incident.pk, kind=EDITABLE_FIELDS[change.field], actor=user, data=_change_data(change)
            )
    return [c.field for c in wanted]


def field_label(name: str) -> str:
    return str(getattr(Incident._meta.get_field(name), "verbose_name", name))


def comparable(value: Any) -> Any:
    """A field's value as the edit form shows it: times to the minute, line ends as \\n."""
    if isinstance(value, datetime):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, str):
        return value.replace("\r\n", "\n").strip()
    return value


def _change_data(change: FieldChange) -> dict[str, Any]:
    """The values an edit event keeps: old and new, people by id and name as they were then."""
    if change.field in {"commander", "coordinator"}:
        person = change.new
        return {"role": change.field, "user": person.pk if person else None, "name": _person(person) if person else ""}
    if change.field == "severity":
        return {"from": change.seen, "to": change.new}
    value = change.new.isoformat() if isinstance(change.new, datetime) else str(change.new)
    return {"field": change.field, "value": value[:4000]}


def checklist_item_set_state(
    *, incident_id: int, item_id: int, user: User, state: str, from_state: str, reason: str = ""
) -> ChecklistItem:
    """Tick, skip (with a reason) or reopen a checklist step, recording who and when."""
    if state == ChecklistItem.State.SKIPPED and not reason.strip():
        raise IncidentRuleError("Say why the step is skipped.")
    with transaction.atomic():
        incident = _locked(incident_id)
        if incident.status == Incident.Status.CLOSED:
            raise IncidentRuleError("A closed incident's checklist cannot change.")
        item = ChecklistItem.objects.select_for_update().get(pk=item_id, incident=incident)
        if item.state != from_state:
            who = f" by {_person(item.completed_by)}" if item.completed_by else ""
            raise IncidentConflict(f"“{item.title}” was already marked {item.get_state_display().lower()}{who}.")
        if state == item.state:
            return item
        try:
            ChecklistItem.TRANSITIONS.check(item.state, state)
        except TransitionError as exc:  # e.g. done → skipped: reopen it first
            raise IncidentRuleError(str(exc)) from exc
        item.state = state
        if state == ChecklistItem.State.PENDING:
            item.completed_by, item.completed_at, item.skip_reason = None, None, ""
        else:
            item.completed_by, item.completed_at = user, timezone.now()
            item.skip_reason = reason.strip()[:500] if state == ChecklistItem.State.SKIPPED else ""
        item.save(update_fields=["state", "completed_by", "completed_at", "skip_reason"])
        event_record(
            incident_id=incident.pk,
            kind=STEP_EVENTS[state],
            actor=user,
            item=item,
            data={"title": item.title, **({"reason": item.skip_reason} if item.skip_reason else {})},
        )
    return item


STEP_EVENTS: dict[str, EventKind] = {
    ChecklistItem.State.DONE: EventKind.STEP_DONE,
    ChecklistItem.State.SKIPPED: EventKind.STEP_SKIPPED,
    ChecklistItem.State.PENDING: EventKind.STEP_REOPENED,
}


def checklist_item_complete_by_run(*, incident_id: int, item_id: int, user: User | None, run_id: int) -> bool:
    """A remediation run that succeeded and verified its own work ticks its runbook step (if the
    step is still pending and the incident open). Recorded as done by the run's requester."""
    with transaction.atomic():
        incident = _locked(incident_id)
        item = ChecklistItem.objects.select_for_update().get(pk=item_id, incident=incident)
        if incident.status == Incident.Status.CLOSED or item.state != ChecklistItem.State.PENDING:
            return False
        item.state, item.completed_by, item.completed_at = ChecklistItem.State.DONE, user, timezone.now()
        item.save(update_fields=["state", "completed_by", "completed_at"])
        event_record(
            incident_id=incident.pk,
            kind=EventKind.STEP_DONE,
            actor=user,
            component=Component.WORKER,
            item=item,
            run=run_id,
            data={"title": item.title, "verified": True},
        )
    return True


def _ack_timeout_minutes(contact: Contact | None) -> int:
    if contact is None:
        return DEFAULT_ACK_TIMEOUT_MINUTES
    level = EscalationLevel.objects.filter(role_id=contact.role_id).order_by("position").first()
    return level.ack_timeout_minutes if level else DEFAULT_ACK_TIMEOUT_MINUTES


def notification_record(
    *,
    incident_id: int,
    user: User | None,
    method: str,
    contact: Contact | None = None,
    recipient: str = "",
    notified_at: datetime | None = None,
    note: str = "",
    ack_due_at: datetime | None = None,
    record_event: bool = True,
) -> NotificationEntry:
    """Log that someone was notified. Its acknowledgement is due within the timeout of the
    contact's escalation level, unless `ack_due_at` says otherwise.

    `user` None means Incident Center itself notified them (an automatic page); the page's own
    event then says what happened (`record_event=False` leaves it to the caller)."""
    if contact is None and not recipient.strip():
        raise IncidentRuleError("Choose a contact or write who was notified.")
    if contact is not None and not recipient.strip():
        recipient = f"{contact.name} ({contact.role.name})"
    with transaction.atomic():
        incident = _locked(incident_id)
        when = notified_at or timezone.now()
        entry = NotificationEntry.objects.create(
            incident=incident,
            contact=contact,
            recipient=recipient.strip(),
            method=method,
            notified_at=when,
            recorded_by=user,
            note=note,
            ack_due_at=ack_due_at or when + timedelta(minutes=_ack_timeout_minutes(contact)),
        )
        if record_event:
            event_record(
                incident_id=incident.pk,
                kind=EventKind.NOTIFICATION_RECORDED,
                actor=user,
                notification=entry,
                data={"recipient": entry.recipient, "method": method, "note": note},
            )
    return entry


def notification_acknowledge(*, incident_id: int, entry_id: int, user: User) -> NotificationEntry:
    """Record, once, that a notified person acknowledged."""
    with transaction.atomic():
        incident = _locked(incident_id)
        entry = NotificationEntry.objects.select_for_update().get(pk=entry_id, incident=incident)
        if entry.acknowledged_at is not None:
            raise IncidentConflict(
                f"{entry.recipient} was already recorded as acknowledged at "
                f"{timezone.localtime(entry.acknowledged_at):%H:%M}."
            )
        entry.acknowledged_at = timezone.now()
        entry.acknowledged_recorded_by = user
        NotificationEntry.objects.filter(pk=entry.pk).update(
            acknowledged_at=entry.acknowledged_at, acknowledged_recorded_by=user
        )
        event_record(
            incident_id=incident.pk,
            kind=EventKind.NOTIFICATION_ACKNOWLEDGED,
            actor=user,
            notification=entry,
            data={"recipient": entry.recipient},
        )
    transaction.on_commit(
        lambda: notification_acknowledged.send(
            sender=NotificationEntry, incident_id=incident_id, entry_id=entry_id, user_id=user.pk
        )
    )
    return entry


def notifications_mark_answered(*, incident_id: int, entry_ids: list[int], user: User | None) -> int:
    """Record that these notifications were answered, without a timeline entry of their own: when
    anyone acknowledges an automatic page, every open page of the incident is answered (the caller
    says who acknowledged on the timeline). Entries already acknowledged keep their first answer."""
    with transaction.atomic():
        incident = _locked(incident_id)
        now = timezone.now()
        # NotificationEntry's manager allows updates; the conditional one keeps first answers.
        answered = NotificationEntry.objects.filter(
            incident=incident, pk__in=entry_ids, acknowledged_at__isnull=True
        ).update(acknowledged_at=now, acknowledged_recorded_by=user)
    if answered:
        announce_incident_changed(incident_id)
    return answered


def note_add(*, incident_id: int, user: User, body: str) -> TimelineEvent:
    """A free-text note on the timeline, in Markdown (sanitised when shown)."""
    body = body.strip()
    if not body:
        raise IncidentRuleError("A note cannot be empty.")
    with transaction.atomic():
        incident = _locked(incident_id)
        return event_record(incident_id=incident.pk, kind=EventKind.NOTE_ADDED, actor=user, body=body)
