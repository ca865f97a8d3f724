"""Every state change of an action run, one function each.

Web side: request, approve, reject, cancel, keep (settle a revert timer). Worker side: claim,
log, finish. Periodic: the sweeper. Each checks its move against `ActionRun.TRANSITIONS`, records
its typed event on the run's incident in its transaction (`apps.remediation.renderers` words them)
and sends the run's id (never its parameters) to the host's queue after commit.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from apps.accounts.models import User
from apps.core.jobs import enqueue, this_host_only
from apps.health.models import Host
from apps.incidents.events import event_record
from apps.incidents.models import ChecklistItem, Component, EventKind, Incident
from apps.incidents.services import checklist_item_complete_by_run
from apps.remediation import catalog, live, rules
from apps.remediation.models import ActionRun, Artifact, RunLogLine

logger = logging.getLogger(__name__)

State = ActionRun.State


class RunRuleError(Exception):
    """The request or decision breaks a rule; nothing was changed. The message says which."""


def _on_timeline(
    run: ActionRun,
    kind: EventKind,
    *,
    actor: User | None = None,
    component: Component = Component.SYSTEM,
    data: dict[str, Any] | None = None,
) -> None:
    """The run's event on its incident's timeline (a run outside an incident has none)."""
    if run.incident_id is not None:
        event_record(incident_id=run.incident_id, kind=kind, actor=actor, component=component, data=data, run=run)


def _state_words(run: ActionRun) -> str:
    return run.get_state_display().lower()


def _note_sent(run_id: int) -> None:
    ActionRun.objects.filter(pk=run_id, state=State.QUEUED).update(
        queued_at=timezone.now(), send_count=F("send_count") + 1
    )


def _queue(run: ActionRun) -> None:
    """In the run's transaction: note the send; the run's id leaves for its host's queue as soon
    as it commits, with nothing before it (the note is written here rather than after the commit,
    which would delay every run's start by one more statement). If the broker is down the run
    stays queued and the sweeper sends it again: nothing requested is dropped."""
    _note_sent(run.pk)
    enqueue("remediation.execute_run", run.pk, queue=run.host.queue)


def _send_robust(run_id: int, queue: str) -> None:
    """The sweeper's send again (outside any transaction)."""
    _note_sent(run_id)
    enqueue("remediation.execute_run", run_id, queue=queue)


def session_digest(session_key: str | None) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest() if session_key else ""


@dataclass
class RunRequest:
    """A validated request from the web side (the params come from the action's form)."""

    action: str
    host: Host
    params: dict[str, Any]
    incident: Incident | None = None
    checklist_item: ChecklistItem | None = None
    dry_run: bool = False
    break_glass_reason: str = ""
    evidence_override_reason: str = ""
    revert_minutes: int | None = None
    session_key: str | None = None
    undoes: ActionRun | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_request(*, user: User, request: RunRequest) -> ActionRun:
    """Record the run; queue it at once unless it needs a second person's approval (or the
    requester breaks the glass with a written reason)."""
    action = catalog.get(request.action)
    if not action.permission(user):
        raise RunRuleError("Your role does not allow this action.")
    if problem := action.host_problem(request.host):
        raise RunRuleError(problem)
    if request.incident is not None and request.incident.status == Incident.Status.CLOSED:
        raise RunRuleError("The incident is closed: run the action without it, or reopen it first.")
    if request.checklist_item is not None and (
        request.incident is None or request.checklist_item.incident_id != request.incident.pk
    ):
        raise RunRuleError("That runbook step is not part of this incident.")
    if request.dry_run and not action.changes_state:
        request.dry_run = False
    if request.revert_minutes and (not action.revert_timer or request.dry_run):
        raise RunRuleError(f"{action.title} cannot take a revert timer here.")
    evidence_override = request.evidence_override_reason.strip()
    if not request.dry_run and rules.evidence_needed(request.incident, action.key) and not evidence_override:
        raise RunRuleError(
            "No forensic bundle has been captured for this incident yet: capture evidence first, "
            "or write why this cannot wait (the override is recorded on the timeline)."
        )
    rule = rules.rule_for(action.key)
    break_glass = request.break_glass_reason.strip()
    needs_approval = rule.needs_approval and not request.dry_run
    if break_glass and not needs_approval:
        break_glass = ""
    if break_glass and not rule.allow_break_glass:
        raise RunRuleError(f"{action.title} may not be run by breaking the glass: ask for approval.")
    with transaction.atomic():
        run = ActionRun.objects.create(
            action=action.key,
            host=request.host,
            incident=request.incident,
            checklist_item=request.checklist_item,
            params=request.params,
            dry_run=request.dry_run,
            requested_by=user,
            needs_approval=needs_approval,
            break_glass_reason=break_glass,
            evidence_override_reason=evidence_override if rules.evidence_needed(request.incident, action.key) else "",
            keep_session_digest=session_digest(request.session_key) if action.key == "reset_credentials" else "",
            revert_minutes=request.revert_minutes or None,
            undoes=request.undoes,
            state=State.AWAITING_APPROVAL if needs_approval and not break_glass else State.QUEUED,
        )
        if break_glass:
            _on_timeline(run, EventKind.BREAK_GLASS, actor=user, data={"reason": break_glass})
        else:
            awaiting = run.state == State.AWAITING_APPROVAL
            _on_timeline(run, EventKind.RUN_REQUESTED, actor=user, data={"awaiting_approval": awaiting})
        if run.evidence_override_reason:
            _on_timeline(run, EventKind.EVIDENCE_OVERRIDDEN, actor=user, data={"reason": run.evidence_override_reason})
        if run.state == State.QUEUED:
            _queue(run)
        live.announce_run_changed(run)
    return run


def _locked_run(run_id: int) -> ActionRun:
    return ActionRun.objects.select_for_update().select_related("host").get(pk=run_id)


def run_approve(*, run_id: int, user: User) -> ActionRun:
    with transaction.atomic():
        run = _locked_run(run_id)
        if not ActionRun.TRANSITIONS.can(run.state, State.QUEUED):
            raise RunRuleError(f"Run #{run.pk} is {_state_words(run)}: there is nothing to approve.")
        if not rules.may_approve(user, run):
            raise RunRuleError("You may not approve this run (a second person must: a manager or an admin).")
        run.state, run.approved_by, run.approved_at = State.QUEUED, user, timezone.now()
        run.save(update_fields=["state", "approved_by", "approved_at"])
        _on_timeline(run, EventKind.RUN_APPROVED, actor=user)
        _queue(run)
        live.announce_run_changed(run)
    return run


def run_reject(*, run_id: int, user: User, note: str) -> ActionRun:
    note = note.strip()
    if not note:
        raise RunRuleError("Say why the run is rejected.")
    with transaction.atomic():
        run = _locked_run(run_id)
        if not ActionRun.TRANSITIONS.can(run.state, State.REJECTED):
            raise RunRuleError(f"Run #{run.pk} is {_state_words(run)}: it can no longer be rejected.")
        if not rules.may_approve(user, run):
            raise RunRuleError("You may not decide on this run.")
        run.state, run.decision_note, run.finished_at = State.REJECTED, note[:500], timezone.now()
        run.save(update_fields=["state", "decision_note", "finished_at"])
        _on_timeline(run, EventKind.RUN_REJECTED, actor=user, data={"note": run.decision_note})
        live.announce_run_changed(run)
    return run


def run_cancel(*, run_id: int, user: User, note: str = "") -> ActionRun:
    """Call off a run that has not started (a running one is stopped by its timeout only)."""
    with transaction.atomic():
        run = _locked_run(run_id)
        if not rules.may_cancel(user, run):
            raise RunRuleError("You may not cancel this run.")
        if not ActionRun.TRANSITIONS.can(run.state, State.CANCELLED):
            raise RunRuleError(f"Run #{run.pk} is {_state_words(run)}: only a waiting run can be cancelled.")
        run.state, run.decision_note, run.finished_at = State.CANCELLED, note.strip()[:500], timezone.now()
        run.save(update_fields=["state", "decision_note", "finished_at"])
        _on_timeline(run, EventKind.RUN_CANCELLED, actor=user, data={"note": run.decision_note})
        live.announce_run_changed(run)
    return run


def run_keep(*, run_id: int, user: User) -> ActionRun:
    """Confirm a timed change: its revert timer stops and the change stays."""
    with transaction.atomic():
        run = _locked_run(run_id)
        if not rules.may_keep(user, run):
            raise RunRuleError("Your role does not allow keeping this change.")
        if not run.revert_pending:
            raise RunRuleError(f"Run #{run.pk} has no revert timer running.")
        run.revert_settled_at, run.revert_settled_by = timezone.now(), user
        run.save(update_fields=["revert_settled_at", "revert_settled_by"])
        _on_timeline(run, EventKind.RUN_KEPT, actor=user)
        live.announce_run_changed(run)
    return run


# --- worker side ------------------------------------------------------------------------------


def run_claim(*, run_id: int, worker: str) -> ActionRun | None:
    """Take the run for this worker with one atomic update: only if it is still queued, meant
    for this host, and approved where approval is needed. A duplicate, replayed or forged message
    finds nothing to claim and runs nothing."""
    now = timezone.now()
    allowed = Q(needs_approval=False) | Q(approved_at__isnull=False) | ~Q(break_glass_reason="")
    candidates = ActionRun.objects.filter(allowed, pk=run_id, state__in=ActionRun.TRANSITIONS.sources(State.RUNNING))
    # Only a host's own worker runs its actions (in embedded mode this process is every host).
    if (only := this_host_only()) is not None:
        candidates = candidates.filter(host__name=only)
    if not candidates.update(state=State.RUNNING, started_at=now, heartbeat_at=now, worker=worker[:200]):
        return None
    run = ActionRun.objects.select_related("host", "incident", "requested_by").get(pk=run_id)
    _on_timeline(run, EventKind.RUN_STARTED, component=Component.WORKER)
    live.announce_run_changed(run)
    return run


def run_heartbeat(run_id: int) -> None:
    ActionRun.objects.filter(pk=run_id, state=State.RUNNING).update(heartbeat_at=timezone.now())


def log_append(run_id: int, lines: list[tuple[str, str]]) -> list[RunLogLine]:
    """Store lines after the run's last one, and send them to open run pages."""
    with transaction.atomic():
        ActionRun.objects.select_for_update().filter(pk=run_id).update(heartbeat_at=timezone.now())
        last = RunLogLine.objects.filter(run_id=run_id).aggregate(last=Max("seq"))["last"] or 0
        rows = RunLogLine.objects.bulk_create(
            [
                RunLogLine(run_id=run_id, seq=last + i, stream=stream, text=text)
                for i, (stream, text) in enumerate(lines, 1)
            ]
        )
    live.publish_log_lines(run_id, rows)
    return rows


@dataclass
class Finish:
    state: str
    summary: str
    exit_status: str = ""
    verified: bool = False
    result: dict[str, Any] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)


def run_finish(*, run_id: int, finish: Finish) -> ActionRun | None:
    """Record how the run ended. A success whose verification passed ticks its runbook step; a
    change with a revert timer starts the timer. Only a running run can finish (a run the
    sweeper already called lost stays lost)."""
    now = timezone.now()
    with transaction.atomic():
        run = _locked_run(run_id)
        if run.state == State.LOST:
            # Its worker was silent too long but came back and finished: keep what it produced
            # (a safety backup must stay restorable) and say so; the run stays lost.
            for artifact in finish.artifacts:
                artifact.run, artifact.host, artifact.incident = run, run.host, run.incident
                artifact.save()
            late = {"state": str(finish.state), "summary": finish.summary[:500], "after_lost": True}
            _on_timeline(run, EventKind.RUN_FINISHED, component=Component.WORKER, data=late)
            live.announce_run_changed(run)
            return None
        if not ActionRun.TRANSITIONS.can(run.state, finish.state):
            logger.warning("run %s finished as %s but was %s", run_id, finish.state, run.state)
            return None
        run.state, run.summary, run.exit_status = finish.state, finish.summary[:500], finish.exit_status[:200]
        run.verified, run.result, run.finished_at = finish.verified, finish.result, now
        if finish.state == State.SUCCEEDED and run.revert_minutes and not run.dry_run:
            run.revert_due_at = now + timedelta(minutes=run.revert_minutes)
        run.save()
        for artifact in finish.artifacts:
            artifact.run, artifact.host, artifact.incident = run, run.host, run.incident
            artifact.save()
        ended: dict[str, Any] = {
            "state": run.state,
            "summary": run.summary,
            "exit_status": run.exit_status,
            "verified": run.verified,
        }
        if run.revert_due_at:
            ended["revert_minutes"] = run.revert_minutes
        _on_timeline(run, EventKind.RUN_FINISHED, component=Component.WORKER, data=ended)
        if (
            finish.state == State.SUCCEEDED
            and finish.verified
            and not run.dry_run
            and run.checklist_item_id is not None
            and run.incident_id is not None
        ):
            checklist_item_complete_by_run(
                incident_id=run.incident_id,
                item_id=run.checklist_item_id,
                user=run.requested_by,
                run_id=run.pk,
            )
        live.announce_run_changed(run)
    return run


# --- the sweeper ------------------------------------------------------------------------------


@dataclass
class SweepReport:
    resent: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    reverted: list[int] = field(default_factory=list)


def runs_sweep() -> SweepReport:
    """Periodic: send again runs queued but unclaimed for a while (requested while Redis or the
    worker was down); call lost the runs whose worker stopped beating; start due reverts."""
    report = SweepReport()
    now = timezone.now()
    resend_before = now - timedelta(seconds=settings.REMEDIATION_RESEND_SECONDS)
    for run in (
        ActionRun.objects.filter(state=State.QUEUED)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=resend_before))
        .select_related("host")
    ):
        _send_robust(run.pk, run.host.queue)
        report.resent.append(run.pk)
    lost_before = now - timedelta(seconds=settings.REMEDIATION_LOST_SECONDS)
    for run_id in ActionRun.objects.filter(
        state__in=ActionRun.TRANSITIONS.sources(State.LOST), heartbeat_at__lt=lost_before
    ).values_list("pk", flat=True):
        if run_lost(run_id=run_id):
            report.lost.append(run_id)
    for run_id in ActionRun.objects.filter(ActionRun.REVERT_PENDING, revert_due_at__lte=now).values_list(
        "pk", flat=True
    ):
        if run_revert_due(run_id=run_id):
            report.reverted.append(run_id)
    return report


def run_lost(*, run_id: int) -> bool:
    with transaction.atomic():
        run = _locked_run(run_id)
        if not ActionRun.TRANSITIONS.can(run.state, State.LOST):
            return False
        lines = RunLogLine.objects.filter(run=run).count()
        run.state, run.finished_at = State.LOST, timezone.now()
        run.summary = (
            f"Its worker stopped answering (no heartbeat since {run.heartbeat_at:%H:%M:%S} UTC); "
            f"{lines} log line(s) kept. Check the host before running it again."
        )
        run.save(update_fields=["state", "finished_at", "summary"])
        _on_timeline(run, EventKind.RUN_LOST, component=Component.SWEEPER, data={"summary": run.summary})
        live.announce_run_changed(run)
    return True


def run_revert_due(*, run_id: int) -> bool:
    """The timer ran out and nobody kept the change: request the undo, as Incident Center."""
    with transaction.atomic():
        run = _locked_run(run_id)
        if not run.revert_pending:
            return False
        undo = catalog.get(run.action).undo(run.params, run.result)
        run.revert_settled_at = timezone.now()
        run.save(update_fields=["revert_settled_at"])
        # A later change of the same kind on this host (the undo by hand, or a new lockdown) is
        # what stands now: reverting this older one would undo that.
        superseded = (
            ActionRun.objects.filter(
                host_id=run.host_id, action__in={run.action, undo[0] if undo else run.action}, dry_run=False
            )
            .filter(Q(requested_at__gt=run.requested_at) | Q(undoes=run))
            .exclude(state__in=[State.REJECTED, State.CANCELLED, State.FAILED, State.LOST])
            .exists()
        )
        if undo is None or superseded:
            if superseded:
                _on_timeline(run, EventKind.REVERT_SUPERSEDED, component=Component.SWEEPER)
                live.announce_run_changed(run)
            return False
        action_key, params = undo
        revert = ActionRun.objects.create(
            action=action_key,
            host=run.host,
            incident=run.incident,
            params=params,
            requested_by=None,
            undoes=run,
            state=State.QUEUED,
        )
        _on_timeline(revert, EventKind.REVERT_STARTED, component=Component.SWEEPER, data={"reverts": run.pk})
        _queue(revert)
        live.announce_run_changed(revert)
        live.announce_run_changed(run)
    return True
