"""The escalation engine: every change of an escalation, in one place each.

An escalation is a row per incident with its own copy of the path, the active step and when it is
due. A step runs only if it is still the escalation's active step and the escalation is still
escalating; running it is claimed under a row lock on the escalation plus a conditional update of
the step, so a duplicate or late Celery message, the auditor and a click can never page twice.
The next step is written in the same transaction and sent to Celery after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.contacts.models import Contact, EscalationLevel
from apps.core.dispatch import enqueue
from apps.incidents.models import Incident, TimelineEntry
from apps.incidents.services import DEFAULT_ACK_TIMEOUT_MINUTES, notifications_mark_answered, timeline_record
from apps.paging.delivery import page_deliver
from apps.paging.models import DeliveryAttempt, Escalation, EscalationStep, Page, PathLevel
from apps.runbooks.models import Runbook

logger = logging.getLogger(__name__)

Kind = EscalationStep.Kind
State = Escalation.State
# A Celery ETA can fire a little early when the worker's clock runs ahead of the web's.
EARLY_TOLERANCE = timedelta(seconds=2)


class PagingError(Exception):
    """The change is not possible now; the message says why, for the user."""


class PagingConflict(PagingError):
    """The escalation moved on while the user was looking."""


class AlreadyAcknowledged(PagingError):
    def __init__(self, escalation: Escalation) -> None:
        when = (
            timezone.localtime(escalation.acknowledged_at).strftime("%Y-%m-%d %H:%M %Z")
            if escalation.acknowledged_at
            else ""
        )
        super().__init__(f"Already acknowledged by {escalation.acknowledged_name} at {when}.")
        self.escalation = escalation


@dataclass
class StepOutcome:
    """What running a step did: `ran`, `stale` (not the active step, or already run), `early`
    (not due yet: run it again in `retry_in` seconds) or `missing`."""

    status: str
    page_ids: list[int] = field(default_factory=list)
    retry_in: float = 0.0


def _timeline(incident_id: int, summary: str, author: User | None = None) -> None:
    timeline_record(incident_id=incident_id, kind=TimelineEntry.Kind.ESCALATION, summary=summary, author=author)


def _levels(escalation: Escalation) -> dict[int, PathLevel]:
    return {level.position: level for level in escalation.levels.all()}


def _describe_levels(levels: dict[int, PathLevel], first: int, last: int) -> str:
    names = [f"{p}. {levels[p].role_name}" for p in range(first, last + 1) if p in levels]
    return ("level " if len(names) == 1 else "levels ") + ", ".join(names)


def schedule_step(escalation: Escalation, step: EscalationStep) -> None:
    """Make `step` the active one (the previous active step, if not run, is skipped) and send it
    to Celery, after commit, for when it is due. Call it inside the transaction that wrote it."""
    from apps.paging.tasks import run_escalation_step

    if escalation.active_step_id and escalation.active_step_id != step.pk:
        EscalationStep.objects.filter(pk=escalation.active_step_id, state=EscalationStep.State.SCHEDULED).update(
            state=EscalationStep.State.SKIPPED
        )
    escalation.active_step = step
    escalation.next_step_due_at = step.due_at
    escalation.save(
        update_fields=[
            "active_step",
            "next_step_due_at",
            "state",
            "ended_at",
            "end_reason",
            "current_first_level",
            "current_level",
            "cycle",
        ]
    )
    step_id, due_at = step.pk, step.due_at

    def send() -> None:
        # The countdown is reckoned when the message leaves, after commit (and after the pages
        # of the step that scheduled this one went out), so the step is due on time.
        enqueue(run_escalation_step, step_id, countdown=max(0.0, (due_at - timezone.now()).total_seconds()))

    transaction.on_commit(send)


def _new_step(
    escalation: Escalation,
    *,
    kind: str,
    first: int | None,
    last: int | None,
    cycle: int,
    due_at: datetime,
    requested_by: User | None = None,
    after: EscalationStep | None = None,
) -> EscalationStep:
    # The active step is always the newest: the step after it, when it runs, is number + 1.
    latest = (
        after.number
        if after is not None
        else escalation.steps.order_by("-number").values_list("number", flat=True).first()
    )
    number = (latest or 0) + 1
    return EscalationStep.objects.create(
        escalation=escalation,
        number=number,
        kind=kind,
        first_level=first,
        last_level=last,
        cycle=cycle,
        due_at=due_at,
        requested_by=requested_by,
    )


def _end(escalation: Escalation, state: str, now: datetime, reason: str) -> None:
    if escalation.active_step_id:
        EscalationStep.objects.filter(pk=escalation.active_step_id, state=EscalationStep.State.SCHEDULED).update(
            state=EscalationStep.State.SKIPPED
        )
    escalation.state = state
    escalation.ended_at = now
    escalation.end_reason = reason[:300]
    escalation.active_step = None
    escalation.next_step_due_at = None


def _successor(
    escalation: Escalation, last: int, cycle: int, total: int, *, manual: bool = False
) -> tuple[int, int, str]:
    """(level, cycle, kind) of the step after `last`, or (0, 0, EXHAUST) at the end of the path.
    After the last level the path starts again from the first contact's level, `repeats` times
    (a hand escalation wraps around whatever the count)."""
    if last < total:
        return last + 1, cycle, Kind.ESCALATE if manual else Kind.TIMEOUT
    if manual or cycle < escalation.repeats:
        return escalation.start_level, cycle + 1, Kind.ESCALATE if manual else Kind.REPEAT
    return 0, 0, Kind.EXHAUST


def escalation_start(*, incident_id: int, user: User | None = None, note: str = "") -> Escalation:
    """Copy the escalation path onto the incident and page its first level now.

    The first level is the scenario's first contact (its runbook says who); for severities in
    `PAGING_WIDE_SEVERITIES` the first page also goes to every level above it on the path. A first
    contact role that is not on the path is paged first, then the path from its top. Idempotent:
    an incident already being paged keeps its escalation.
    """
    now = timezone.now()
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        existing = Escalation.objects.filter(incident=incident).first()
        if existing is not None:
            return existing
        if not incident.is_active:
            raise PagingError(f"{incident.reference} is {incident.get_status_display().lower()}: it is not paged.")
        path = [
            (level.role, level.ack_timeout_minutes * 60) for level in EscalationLevel.objects.select_related("role")
        ]
        runbook = Runbook.objects.filter(scenario=incident.scenario).select_related("first_contact_role").first()
        first_role = runbook.first_contact_role if runbook else None
        start = 1
        if first_role is not None:
            on_path = [position for position, (role, _) in enumerate(path, start=1) if role.pk == first_role.pk]
            if on_path:
                start = on_path[0]
            else:
                path.insert(0, (first_role, DEFAULT_ACK_TIMEOUT_MINUTES * 60))
        escalation = Escalation.objects.create(
            incident=incident, started_at=now, start_level=start, repeats=settings.PAGING_REPEATS
        )
        PathLevel.objects.bulk_create(
            PathLevel(escalation=escalation, position=p, role=role, role_name=role.name, ack_timeout_seconds=seconds)
            for p, (role, seconds) in enumerate(path, start=1)
        )
        prefix = f"{note} " if note else ""
        if not path:
            _end(escalation, State.EXHAUSTED, now, "The escalation path is empty: there is nobody to page.")
            escalation.save()
            _timeline(incident.pk, f"{prefix}Nobody paged: the escalation path is empty.", user)
            return escalation
        wide = incident.severity in settings.PAGING_WIDE_SEVERITIES and start > 1
        first = 1 if wide else start
        step = _new_step(escalation, kind=Kind.START, first=first, last=start, cycle=0, due_at=now, requested_by=user)
        schedule_step(escalation, step)
        levels = _levels(escalation)
        route = " → ".join(level.role_name for level in levels.values())
        widened = f" ({incident.get_severity_display()}: with every level above it)" if wide else ""
        _timeline(
            incident.pk,
            f"{prefix}Paging started: first page to {_describe_levels(levels, start, start)}{widened}. "
            f"Escalation path copied: {route}.",
            user,
        )
    return escalation


def step_run(*, step_id: int, by_auditor: bool = False) -> StepOutcome:
    """Run the escalation step `step_id` if it is still due to run: create its pages and schedule
    the next step. The pages are delivered as soon as this commits (outside the transaction);
    the ids returned let the caller deliver any that are still pending then."""
    now = timezone.now()
    with transaction.atomic():
        # Only the escalation's active step runs; every change of the active step locks this row.
        escalation = (
            Escalation.objects.select_for_update(of=("self",))
            .select_related("incident", "active_step")
            .filter(active_step_id=step_id)
            .first()
        )
        if escalation is None or escalation.active_step is None:
            return StepOutcome("stale" if EscalationStep.objects.filter(pk=step_id).exists() else "missing")
        step = escalation.active_step
        if step.state != EscalationStep.State.SCHEDULED:
            return StepOutcome("stale")
        if escalation.state != State.ACTIVE:
            return StepOutcome("stale")
        if step.due_at > now + EARLY_TOLERANCE:
            return StepOutcome("early", retry_in=(step.due_at - now).total_seconds())
        claimed = EscalationStep.objects.filter(pk=step.pk, state=EscalationStep.State.SCHEDULED).update(
            state=EscalationStep.State.DONE, ran_at=now, ran_by_auditor=by_auditor
        )
        if claimed != 1:
            return StepOutcome("stale")
        # Run: no longer the active step (the next one, or none, is saved below).
        escalation.active_step = None
        incident = escalation.incident
        late = now - step.due_at
        if by_auditor:
            _note_late(escalation, step, late)
        if not incident.is_active:
            _end(escalation, State.STOPPED, now, f"{incident.reference} is {incident.get_status_display().lower()}.")
            escalation.save()
            _timeline(incident.pk, f"Paging stopped: {incident.reference} is {incident.get_status_display().lower()}.")
            return StepOutcome("ran")
        page_ids = _run(escalation, step, now)
    return StepOutcome("ran", page_ids)


def _note_late(escalation: Escalation, step: EscalationStep, late: timedelta) -> None:
    seconds = int(late.total_seconds())
    _timeline(
        escalation.incident_id,
        f"Auditor: escalation step {step.number} ({step.get_kind_display().lower()}) was {_duration(seconds)} overdue "
        "(a worker or beat was down, or its message was lost); running it now.",
    )
    logger.warning("escalation step %s of incident %s ran %s s late", step.pk, escalation.incident_id, seconds)
    if late > timedelta(minutes=settings.PAGING_OVERDUE_WARN_MINUTES):
        escalation.late_warning = f"Escalation step ran {_duration(seconds)} late: check the workers and beat"
        escalation.save(update_fields=["late_warning"])


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min"


def _contacts(levels: dict[int, PathLevel], first: int, last: int) -> list[tuple[PathLevel, Contact]]:
    """The contacts of levels first…last, in path order; a person on two levels is paged once."""
    wanted = [levels[p] for p in range(first, last + 1) if p in levels and levels[p].role_id]
    by_role: dict[int, list[Contact]] = {}
    for contact in Contact.objects.filter(role_id__in=[level.role_id for level in wanted]).order_by("name", "pk"):
        by_role.setdefault(contact.role_id, []).append(contact)
    seen: set[int] = set()
    found = []
    for level in wanted:
        for contact in by_role.get(level.role_id or 0, []):
            if contact.pk not in seen:
                seen.add(contact.pk)
                found.append((level, contact))
    return found


def _run(escalation: Escalation, step: EscalationStep, now: datetime) -> list[int]:
    incident_id = escalation.incident_id
    if step.kind == Kind.EXHAUST:
        _exhaust(escalation, now)
        return []
    levels = _levels(escalation)
    total = len(levels)
    first, last, cycle = step.first_level or 1, step.last_level or 1, step.cycle
    found = _contacts(levels, first, last)
    # Levels nobody can be paged at are passed over now: waiting out their timeout helps no one.
    for _ in range(total * (escalation.repeats + 2)):
        if found:
            break
        _timeline(incident_id, f"Nobody to page at {_describe_levels(levels, first, last)}: moving on.")
        level, cycle, kind = _successor(escalation, last, cycle, total)
        if kind == Kind.EXHAUST:
            _exhaust(escalation, now)
            return []
        first = last = level
        found = _contacts(levels, first, last)
    if not found:
        _exhaust(escalation, now)
        return []
    if (first, last, cycle) != (step.first_level, step.last_level, step.cycle):
        step.first_level, step.last_level, step.cycle = first, last, cycle
        step.save(update_fields=["first_level", "last_level", "cycle"])
    timeout = timedelta(seconds=levels[last].ack_timeout_seconds)
    ack_due = now + timeout
    pages = Page.objects.bulk_create(
        Page(
            escalation=escalation,
            step=step,
            incident_id=incident_id,
            contact=contact,
            contact_name=contact.name,
            role_name=level.role_name,
            level=level.position,
            ack_due_at=ack_due,
            created_at=now,
        )
        for level, contact in found
    )
    page_ids = [page.pk for page in pages]
    # Registered first, so the pages go out as soon as this commits, before the live-page
    # refreshes and the next step's message; the task delivers any left (see tasks.py).
    transaction.on_commit(lambda: _deliver(page_ids), robust=True)
    escalation.current_first_level, escalation.current_level, escalation.cycle = first, last, cycle
    names = ", ".join(contact.name for _, contact in found)
    again = f" (path paged again, round {cycle + 1})" if cycle and step.kind == Kind.REPEAT else ""
    _timeline(
        incident_id,
        f"{step.get_kind_display()}: paging {_describe_levels(levels, first, last)}{again}: {names}. "
        f"Waiting {_duration(int(timeout.total_seconds()))} for an acknowledgement.",
    )
    level, next_cycle, kind = _successor(escalation, last, cycle, total)
    next_step = _new_step(
        escalation,
        kind=kind,
        first=level or None,
        last=level or None,
        cycle=next_cycle,
        due_at=ack_due,
        after=step,
    )
    schedule_step(escalation, next_step)
    return page_ids


def _deliver(page_ids: list[int]) -> None:
    for page_id in page_ids:
        page_deliver(page_id=page_id)


def _exhaust(escalation: Escalation, now: datetime) -> None:
    rounds = escalation.cycle + 1
    _end(escalation, State.EXHAUSTED, now, f"Nobody acknowledged after the whole escalation path ({rounds} times).")
    escalation.save()
    _timeline(
        escalation.incident_id,
        f"Nobody acknowledged after the whole escalation path (paged {rounds} times): the incident is UNACKNOWLEDGED. "
        "Escalate or re-page by hand, or call someone.",
    )


def _open_escalation(incident_id: int) -> Escalation:
    escalation = (
        Escalation.objects.select_for_update().select_related("incident").filter(incident_id=incident_id).first()
    )
    if escalation is None:
        raise PagingError("This incident is not being paged.")
    if escalation.state == State.ACKNOWLEDGED:
        raise AlreadyAcknowledged(escalation)
    if escalation.state == State.STOPPED:
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
            .filter(incident_id=incident_id, state=State.ACTIVE)
            .first()
        )
        if escalation is None or escalation.incident.is_active:
            return False
        incident = escalation.incident
        reason = f"{incident.reference} is {incident.get_status_display().lower()}."
        _end(escalation, State.STOPPED, now, reason)
        escalation.save()
        _timeline(incident.pk, f"Paging stopped: {reason}")
    return True


def _contact_of(user: User) -> Contact | None:
    return Contact.objects.filter(user=user).order_by("pk").first()


def escalation_acknowledge(
    *, incident_id: int, via: str, user: User | None = None, contact: Contact | None = None
) -> Escalation:
    """Someone answered: stop the escalation, say so on the timeline, and mark every open page of
    the incident as answered. Raises `AlreadyAcknowledged` (saying by whom and when) the second time."""
    if user is None and contact is None:
        raise ValueError("an acknowledgement needs a user or a contact")
    now = timezone.now()
    with transaction.atomic():
        escalation = _open_escalation(incident_id)
        # The person who answered: the contact paged when given (a link, or the log on their
        # behalf), else the signed-in user, who may also be on the contact sheet.
        name = contact.name if contact is not None else user.display_name if user is not None else ""
        if contact is None and user is not None:
            contact = _contact_of(user)
        _end(escalation, State.ACKNOWLEDGED, now, f"Acknowledged by {name}.")
        escalation.acknowledged_at = now
        escalation.acknowledged_by_user = user
        escalation.acknowledged_by_contact = contact
        escalation.acknowledged_name = name
        escalation.acknowledged_via = via
        escalation.save()
        author = user or (contact.user if contact is not None else None)
        _timeline(incident_id, f"{name} acknowledged the page ({via}): escalation stopped.", author)
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


def escalation_escalate_now(*, incident_id: int, user: User, seen_step_id: int | None) -> Escalation:
    """Page the next level now instead of waiting for the timeout (after the last level, the path
    starts again). `seen_step_id` is the step the user saw: a double click escalates once."""
    now = timezone.now()
    with transaction.atomic():
        escalation = _open_escalation(incident_id)
        _check_seen(escalation, seen_step_id)
        levels = _levels(escalation)
        if escalation.current_level is None:
            level, cycle = escalation.start_level, escalation.cycle
        else:
            level, cycle, _ = _successor(
                escalation, escalation.current_level, escalation.cycle, len(levels), manual=True
            )
        step = _new_step(
            escalation, kind=Kind.ESCALATE, first=level, last=level, cycle=cycle, due_at=now, requested_by=user
        )
        _reopen(escalation)
        schedule_step(escalation, step)
        _timeline(incident_id, f"Escalated by hand: paging {_describe_levels(levels, level, level)} now.", user)
    return escalation


def escalation_repage(*, incident_id: int, user: User, seen_step_id: int | None) -> Escalation:
    """Page the current level again now; its timeout starts again."""
    now = timezone.now()
    with transaction.atomic():
        escalation = _open_escalation(incident_id)
        _check_seen(escalation, seen_step_id)
        levels = _levels(escalation)
        first = escalation.current_first_level or escalation.start_level
        last = escalation.current_level or escalation.start_level
        step = _new_step(
            escalation, kind=Kind.REPAGE, first=first, last=last, cycle=escalation.cycle, due_at=now, requested_by=user
        )
        _reopen(escalation)
        schedule_step(escalation, step)
        _timeline(incident_id, f"Re-paging {_describe_levels(levels, first, last)} by hand.", user)
    return escalation


def _reopen(escalation: Escalation) -> None:
    escalation.state = State.ACTIVE
    escalation.ended_at = None
    escalation.end_reason = ""


@dataclass
class AuditReport:
    steps_run: list[int] = field(default_factory=list)
    pages_delivered: list[int] = field(default_factory=list)
    escalations_started: list[int] = field(default_factory=list)


def overdue_step_ids(now: datetime) -> list[int]:
    grace = timedelta(seconds=settings.PAGING_AUDIT_GRACE_SECONDS)
    return [
        step_id
        for step_id in Escalation.objects.filter(
            state=State.ACTIVE, next_step_due_at__lt=now - grace, active_step__isnull=False
        ).values_list("active_step_id", flat=True)
        if step_id
    ]


def unstarted_incident_ids(now: datetime) -> Iterable[int]:
    """Active incidents declared in the last hour (and not just now) that paging never started
    for: the process stopped between the declaration's commit and its signal."""
    if not settings.PAGING_ON_DECLARE:
        return []
    grace = timedelta(seconds=settings.PAGING_AUDIT_GRACE_SECONDS)
    return Incident.objects.filter(
        status__in=Incident.ACTIVE_STATUSES,
        declared_at__gte=now - timedelta(hours=1),
        declared_at__lt=now - grace,
        escalation__isnull=True,
    ).values_list("pk", flat=True)
