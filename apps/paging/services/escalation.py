"""The escalation engine: starting an escalation and running its steps.

An escalation is a row per incident with its own copy of the path, the active step and when it is
due. A step runs only if it is still the escalation's active step and the escalation is still
escalating; running it is claimed under a row lock on the escalation plus a conditional update of
the step, so a duplicate or late Celery message, the auditor and a click can never page twice.
The next step is written in the same transaction and sent to Celery after commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.contacts.models import Contact, EscalationLevel
from apps.core.jobs import enqueue
from apps.incidents.events import event_record
from apps.incidents.models import Component, EventKind, Incident
from apps.incidents.services import DEFAULT_ACK_TIMEOUT_MINUTES
from apps.paging.models import Escalation, EscalationStep, Page, PathLevel
from apps.paging.renderers import duration, level_items
from apps.paging.services.delivery import page_deliver
from apps.paging.services.errors import PagingError
from apps.runbooks.models import Runbook

logger = logging.getLogger(__name__)

Kind = EscalationStep.Kind
State = Escalation.State
StepState = EscalationStep.State
# A Celery ETA can fire a little early when the worker's clock runs ahead of the web's.
EARLY_TOLERANCE = timedelta(seconds=2)


@dataclass
class StepOutcome:
    """What running a step did: `ran`, `stale` (not the active step, or already run), `early`
    (not due yet: run it again in `retry_in` seconds) or `missing`."""

    status: str
    page_ids: list[int] = field(default_factory=list)
    retry_in: float = 0.0


def levels_of(escalation: Escalation) -> dict[int, PathLevel]:
    return {level.position: level for level in escalation.levels.all()}


def level_names(levels: dict[int, PathLevel]) -> dict[int, str]:
    return {position: level.role_name for position, level in levels.items()}


def _skip_active_step(escalation: Escalation, *, keep: EscalationStep | None = None) -> None:
    """The active step, if it has not run, will not: another takes its place or paging ended."""
    if escalation.active_step_id and (keep is None or escalation.active_step_id != keep.pk):
        EscalationStep.objects.filter(
            pk=escalation.active_step_id, state__in=EscalationStep.TRANSITIONS.sources(StepState.SKIPPED)
        ).update(state=StepState.SKIPPED)


def schedule_step(escalation: Escalation, step: EscalationStep) -> None:
    """Make `step` the active one (the previous active step, if not run, is skipped) and send it
    to Celery, after commit, for when it is due. Call it inside the transaction that wrote it."""
    _skip_active_step(escalation, keep=step)
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
    # Sent after commit (after the pages of the step that scheduled this one went out), due at
    # its time: a step whose message is lost is run by the auditor.
    enqueue("paging.run_escalation_step", step.pk, eta=step.due_at)


def new_step(
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


def end(escalation: Escalation, state: str, now: datetime, reason: str) -> None:
    """Move the escalation to `state` (its table says whether it may) and drop its active step.
    The caller saves it and records the event."""
    Escalation.TRANSITIONS.check(escalation.state, state)
    _skip_active_step(escalation)
    escalation.state = state
    escalation.ended_at = now
    escalation.end_reason = reason[:300]
    escalation.active_step = None
    escalation.next_step_due_at = None


def successor(
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


def escalation_start(*, incident_id: int, user: User | None = None, by_auditor: bool = False) -> Escalation:
    """Copy the escalation path onto the incident and page its first level now.

    The first level is the scenario's first contact (its runbook says who); for severities in
    `PAGING_WIDE_SEVERITIES` the first page also goes to every level above it on the path. A first
    contact role that is not on the path is paged first, then the path from its top. Idempotent:
    an incident already being paged keeps its escalation. `by_auditor`: the auditor starts paging
    that never started (the event says so).
    """
    now = timezone.now()
    component = Component.AUDITOR if by_auditor else Component.ESCALATION
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
        if not path:
            end(escalation, State.EXHAUSTED, now, "The escalation path is empty: there is nobody to page.")
            escalation.save()
            event_record(
                incident_id=incident.pk,
                kind=EventKind.NOBODY_TO_PAGE,
                actor=user,
                component=component,
                data={"empty_path": True},
            )
            return escalation
        wide = incident.severity in settings.PAGING_WIDE_SEVERITIES and start > 1
        first = 1 if wide else start
        step = new_step(escalation, kind=Kind.START, first=first, last=start, cycle=0, due_at=now, requested_by=user)
        schedule_step(escalation, step)
        event_record(
            incident_id=incident.pk,
            kind=EventKind.PAGING_STARTED,
            actor=user,
            component=component,
            step=step,
            data={
                "first_level": first,
                "last_level": start,
                "route": [role.name for role, _ in path],
                "wide": wide,
                "severity": incident.severity,
            },
        )
    return escalation


def step_run(*, step_id: int, by_auditor: bool = False) -> StepOutcome:
    """Run the escalation step `step_id` if it is still due to run: create its pages and schedule
    the next step. The pages are delivered as soon as this commits (outside the transaction);
    the ids returned let the caller deliver any that are still pending then."""
    now = timezone.now()
    component = Component.AUDITOR if by_auditor else Component.ESCALATION
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
        # Steps run while the escalation escalates; once it ended, its steps are history.
        if not EscalationStep.TRANSITIONS.can(step.state, StepState.DONE) or escalation.state != State.ACTIVE:
            return StepOutcome("stale")
        if step.due_at > now + EARLY_TOLERANCE:
            return StepOutcome("early", retry_in=(step.due_at - now).total_seconds())
        claimed = EscalationStep.objects.filter(
            pk=step.pk, state__in=EscalationStep.TRANSITIONS.sources(StepState.DONE)
        ).update(state=StepState.DONE, ran_at=now, ran_by_auditor=by_auditor)
        if claimed != 1:
            return StepOutcome("stale")
        # Run: no longer the active step (the next one, or none, is saved below).
        escalation.active_step = None
        incident = escalation.incident
        if by_auditor:
            _note_late(escalation, step, now - step.due_at)
        if not incident.is_active:
            end(escalation, State.STOPPED, now, f"{incident.reference} is {incident.get_status_display().lower()}.")
            escalation.save()
            event_record(
                incident_id=incident.pk,
                kind=EventKind.PAGING_STOPPED,
                component=component,
                step=step,
                data={"reason": "incident_over", "status": incident.status},
            )
            return StepOutcome("ran")
        page_ids = _run(escalation, step, now, component)
    return StepOutcome("ran", page_ids)


def _note_late(escalation: Escalation, step: EscalationStep, late: timedelta) -> None:
    seconds = int(late.total_seconds())
    event_record(
        incident_id=escalation.incident_id,
        kind=EventKind.ESCALATION_LATE,
        component=Component.AUDITOR,
        step=step,
        data={"seconds": seconds, "step_number": step.number, "step_kind": step.kind},
    )
    logger.warning("escalation step %s of incident %s ran %s s late", step.pk, escalation.incident_id, seconds)
    if late > timedelta(minutes=settings.PAGING_OVERDUE_WARN_MINUTES):
        escalation.late_warning = f"Escalation step ran {duration(seconds)} late: check the workers and beat"
        escalation.save(update_fields=["late_warning"])


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


def _run(escalation: Escalation, step: EscalationStep, now: datetime, component: Component) -> list[int]:
    incident_id = escalation.incident_id
    if step.kind == Kind.EXHAUST:
        _exhaust(escalation, now, component)
        return []
    levels = levels_of(escalation)
    names = level_names(levels)
    total = len(levels)
    first, last, cycle = step.first_level or 1, step.last_level or 1, step.cycle
    found = _contacts(levels, first, last)
    # Levels nobody can be paged at are passed over now: waiting out their timeout helps no one.
    for _ in range(total * (escalation.repeats + 2)):
        if found:
            break
        event_record(
            incident_id=incident_id,
            kind=EventKind.NOBODY_TO_PAGE,
            component=component,
            step=step,
            data={"levels": level_items(names, first, last)},
        )
        level, cycle, kind = successor(escalation, last, cycle, total)
        if kind == Kind.EXHAUST:
            _exhaust(escalation, now, component)
            return []
        first = last = level
        found = _contacts(levels, first, last)
    if not found:
        _exhaust(escalation, now, component)
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
    event_record(
        incident_id=incident_id,
        kind=EventKind.ESCALATION_STEP,
        component=component,
        step=step,
        data={
            "kind": step.kind,
            "levels": level_items(names, first, last),
            "names": [contact.name for _, contact in found],
            "timeout_seconds": int(timeout.total_seconds()),
            "round": cycle + 1,
            "again": bool(cycle and step.kind == Kind.REPEAT),
        },
    )
    level, next_cycle, kind = successor(escalation, last, cycle, total)
    next_step = new_step(
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


def _exhaust(escalation: Escalation, now: datetime, component: Component) -> None:
    rounds = escalation.cycle + 1
    end(escalation, State.EXHAUSTED, now, f"Nobody acknowledged after the whole escalation path ({rounds} times).")
    escalation.save()
    event_record(
        incident_id=escalation.incident_id,
        kind=EventKind.PAGING_EXHAUSTED,
        component=component,
        data={"rounds": rounds},
    )
