"""What people, and the incident's lifecycle, do to a running escalation: acknowledge it, escalate
now, re-page the current level, stop it when the incident is over. Each locks the escalation row,
asks `Escalation.TRANSITIONS` whether the move is legal, and records its event in the same
transaction."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.incidents.events import event_record
from apps.incidents.models import Component, EventKind
from apps.incidents.services import notifications_mark_answered
from apps.paging.models import DeliveryAttempt, Escalation, EscalationStep, Page
from apps.paging.renderers import level_items
from apps.paging.services.errors import AlreadyAcknowledged, PagingConflict, PagingError
from apps.paging.services.escalation import (
    end,
    level_names,
    levels_of,
    new_step,
    schedule_step,
    successor,
)

State = Escalation.State
StepKind = EscalationStep.Kind


def _open_escalation(incident_id: int, target: str) -> Escalation:
    """The incident's escalation, locked, if it may become `target`; else the reason, for the user."""
    escalation = (
        Escalation.objects.select_for_update().select_related("incident").filter(incident_id=incident_id).first()
    )
    if escalation is None:
        raise PagingError("This incident is not being paged.")
    if not Escalation.TRANSITIONS.can(escalation.state, target):
        if escalation.state == State.ACKNOWLEDGED:
            raise AlreadyAcknowledged(escalation)
        raise PagingError(f"Paging stopped: {escalation.end_reason}")
    return escalation


def escalation_stop_if_over(*, incident_id: int) -> bool:
    """Stop paging at once when the incident is no longer active (resolved or closed), rather
    than at its next step. Returns whether it stopped."""
    now = timezone.now()
    with transaction.atomic():
        escalation = (
            Escalation.objects.select_for_update(of=("self",))
            .select_related("incident")
            .filter(incident_id=incident_id, state__in=Escalation.TRANSITIONS.sources(State.STOPPED))
            .first()
        )
        if escalation is None or escalation.incident.is_active:
            return False
        incident = escalation.incident
        end(escalation, State.STOPPED, now, f"{incident.reference} is {incident.get_status_display().lower()}.")
        escalation.save()
        event_record(
            incident_id=incident.pk,
            kind=EventKind.PAGING_STOPPED,
            component=Component.ESCALATION,
            data={"reason": "incident_over", "status": incident.status},
        )
    return True


def _contact_of(user: User) -> Contact | None:
    return Contact.objects.filter(user=user).order_by("pk").first()


def escalation_acknowledge(
    *,
    incident_id: int,
    via: str,
    user: User | None = None,
    contact: Contact | None = None,
    page: Page | None = None,
) -> Escalation:
    """Someone answered (`page`: the page they answered, when known): stop the escalation, record
    who, and mark every open page of the incident as answered in the notification log. Raises
    `AlreadyAcknowledged` (saying by whom and when) the second time."""
    if user is None and contact is None:
        raise ValueError("an acknowledgement needs a user or a contact")
    now = timezone.now()
    with transaction.atomic():
        escalation = _open_escalation(incident_id, State.ACKNOWLEDGED)
        # The person who answered: the contact paged when given (a link, or the log on their
        # behalf), else the signed-in user, who may also be on the contact sheet.
        name = contact.name if contact is not None else user.display_name if user is not None else ""
        if contact is None and user is not None:
            contact = _contact_of(user)
        end(escalation, State.ACKNOWLEDGED, now, f"Acknowledged by {name}.")
        escalation.acknowledged_at = now
        escalation.acknowledged_by_user = user
        escalation.acknowledged_by_contact = contact
        escalation.acknowledged_name = name
        escalation.acknowledged_via = via
        escalation.save()
        actor = user or (contact.user if contact is not None else None)
        event_record(
            incident_id=incident_id,
            kind=EventKind.ACKNOWLEDGED,
            actor=actor,
            component=Component.ESCALATION,
            page=page,
            data={"name": name, "via": via},
        )
        open_entries = list(
            DeliveryAttempt.objects.filter(
                page__escalation=escalation, notification__isnull=False, notification__acknowledged_at__isnull=True
            ).values_list("notification_id", flat=True)
        )
        if open_entries:
            notifications_mark_answered(incident_id=incident_id, entry_ids=[i for i in open_entries if i], user=user)
    return escalation


def _check_seen(escalation: Escalation, seen_step_id: int | None) -> None:
    if escalation.active_step_id != seen_step_id:
        raise PagingConflict("The escalation moved on while you were looking: check where it stands and try again.")


def _reopen(escalation: Escalation) -> None:
    Escalation.TRANSITIONS.check(escalation.state, State.ACTIVE)
    escalation.state = State.ACTIVE
    escalation.ended_at = None
    escalation.end_reason = ""


def escalation_escalate_now(*, incident_id: int, user: User, seen_step_id: int | None) -> Escalation:
    """Page the next level now instead of waiting for the timeout (after the last level, the path
    starts again). `seen_step_id` is the step the user saw: a double click escalates once."""
    now = timezone.now()
    with transaction.atomic():
        escalation = _open_escalation(incident_id, State.ACTIVE)
        _check_seen(escalation, seen_step_id)
        levels = levels_of(escalation)
        if escalation.current_level is None:
            level, cycle = escalation.start_level, escalation.cycle
        else:
            level, cycle, _ = successor(
                escalation, escalation.current_level, escalation.cycle, len(levels), manual=True
            )
        step = new_step(
            escalation,
            kind=StepKind.ESCALATE,
            first=level,
            last=level,
            cycle=cycle,
            due_at=now,
            requested_by=user,
        )
        _reopen(escalation)
        schedule_step(escalation, step)
        event_record(
            incident_id=incident_id,
            kind=EventKind.ESCALATED,
            actor=user,
            step=step,
            data={"levels": level_items(level_names(levels), level, level)},
        )
    return escalation


def escalation_repage(*, incident_id: int, user: User, seen_step_id: int | None) -> Escalation:
    """Page the current level again now; its timeout starts again."""
    now = timezone.now()
    with transaction.atomic():
        escalation = _open_escalation(incident_id, State.ACTIVE)
        _check_seen(escalation, seen_step_id)
        levels = levels_of(escalation)
        first = escalation.current_first_level or escalation.start_level
        last = escalation.current_level or escalation.start_level
        step = new_step(
            escalation,
            kind=StepKind.REPAGE,
            first=first,
            last=last,
            cycle=escalation.cycle,
            due_at=now,
            requested_by=user,
        )
        _reopen(escalation)
        schedule_step(escalation, step)
        event_record(
            incident_id=incident_id,
            kind=EventKind.REPAGED,
            actor=user,
            step=step,
            data={"levels": level_items(level_names(levels), first, last)},
        )
    return escalation
