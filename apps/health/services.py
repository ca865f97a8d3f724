"""State changes of health data: recording samples, folding and pruning history, on-demand
snapshots, attaching a signal to an incident, and applying Alertmanager's webhooks."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Max, Min
from django.db.models.functions import TruncMinute
from django.utils import timezone

from apps.accounts.models import User
from apps.core.jobs import enqueue
from apps.health import alertmanager
from apps.health.models import STATE_RANK, AlertGroup, Host, MinuteAggregate, Sample, SecuritySnapshot, State
from apps.health.probes import Reading
from apps.incidents.events import event_record
from apps.incidents.models import Component, EventKind, Incident, TimelineEvent
from apps.incidents.services import incident_declare

RAW_RETENTION = timedelta(hours=24)
MINUTE_RETENTION = timedelta(days=30)
# Each fold starts a little before the newest minute already folded, so a sample stamped by a
# worker whose clock lags, or committed just after its minute was folded, is still counted.
FOLD_OVERLAP = timedelta(minutes=5)


def readings_record(*, host: Host, readings: list[Reading], taken_at: datetime | None = None) -> list[Sample]:
    """Store one sampling round of a host."""
    when = taken_at or timezone.now()
    return Sample.objects.bulk_create(
        Sample(
            host=host,
            probe=r.probe,
            taken_at=when,
            state=r.state,
            value=r.value,
            summary=r.summary[:200],
            data=r.data,
            error=r.error[:500],
        )
        for r in readings
    )


def history_fold(*, now: datetime | None = None) -> int:
    """Fold every finished minute of raw samples not yet folded into per-minute aggregates
    (idempotent: a minute folded again is recomputed from the same raw rows). Returns the rows
    written."""
    now = now or timezone.now()
    current_minute = now.replace(second=0, microsecond=0)
    since = current_minute - RAW_RETENTION
    # Only what is new since the last fold: refolding the whole day every minute would cost
    # a day of raw rows per run.
    last_folded = MinuteAggregate.objects.filter(minute__gte=since).aggregate(last=Max("minute"))["last"]
    if last_folded is not None:
        since = max(since, last_folded - FOLD_OVERLAP)
    rows = (
        Sample.objects.filter(taken_at__gte=since, taken_at__lt=current_minute)
        .annotate(minute=TruncMinute("taken_at"))
        .values("host_id", "probe", "minute")
        .annotate(count=Count("pk"), avg=Avg("value"), low=Min("value"), high=Max("value"))
        .order_by()
    )
    states = (
        Sample.objects.filter(taken_at__gte=since, taken_at__lt=current_minute)
        .annotate(minute=TruncMinute("taken_at"))
        .values_list("host_id", "probe", "minute", "state")
        # Without clearing Sample's default ordering, taken_at joins the DISTINCT: every raw row.
        .order_by()
        .distinct()
    )
    worst: dict[tuple[int, str, datetime], str] = {}
    for host_id, probe, minute, state in states:
        key = (host_id, probe, minute)
        if key not in worst or STATE_RANK[State(state)] > STATE_RANK[State(worst[key])]:
            worst[key] = state
    aggregates = [
        MinuteAggregate(
            host_id=row["host_id"],
            probe=row["probe"],
            minute=row["minute"],
            count=row["count"],
            value_avg=row["avg"],
            value_min=row["low"],
            value_max=row["high"],
            worst_state=worst.get((row["host_id"], row["probe"], row["minute"]), State.UNKNOWN),
        )
        for row in rows
    ]
    MinuteAggregate.objects.bulk_create(
        aggregates,
        update_conflicts=True,
        unique_fields=["host", "probe", "minute"],
        update_fields=["count", "value_avg", "value_min", "value_max", "worst_state"],
    )
    return len(aggregates)


def history_prune(*, now: datetime | None = None) -> tuple[int, int]:
    """Delete raw samples older than 24 h and minute aggregates older than 30 days."""
    now = now or timezone.now()
    raw, _ = Sample.objects.filter(taken_at__lt=now - RAW_RETENTION).delete()
    minutes, _ = MinuteAggregate.objects.filter(minute__lt=now - MINUTE_RETENTION).delete()
    return raw, minutes


def snapshot_request(*, host: Host, kind: str, user: User) -> SecuritySnapshot:
    """Ask the host's worker for an on-demand look (ports, logins, modified files)."""
    with transaction.atomic():
        snapshot = SecuritySnapshot.objects.create(host=host, kind=kind, requested_by=user)
        enqueue("health.take_snapshot", snapshot.pk, queue=host.queue)
    return snapshot


def snapshot_claim(snapshot_id: int) -> SecuritySnapshot | None:
    """The worker's claim: only a requested snapshot is taken, and only once (a conditional update
    from requested to taking)."""
    requested, taking = SecuritySnapshot.Status.REQUESTED, SecuritySnapshot.Status.TAKING
    SecuritySnapshot.TRANSITIONS.check(requested, taking)
    claimed = SecuritySnapshot.objects.filter(pk=snapshot_id, status=requested).update(status=taking)
    if not claimed:
        return None
    return SecuritySnapshot.objects.select_related("host").get(pk=snapshot_id)


def snapshot_store(*, snapshot: SecuritySnapshot, data: dict[str, object], error: str = "") -> SecuritySnapshot:
    """What the worker saw (done), or why it could not look (failed)."""
    target = SecuritySnapshot.Status.FAILED if error else SecuritySnapshot.Status.DONE
    SecuritySnapshot.TRANSITIONS.check(snapshot.status, target)
    snapshot.data = data
    snapshot.error = error[:500]
    snapshot.status = target
    snapshot.taken_at = timezone.now()
    snapshot.save(update_fields=["data", "error", "status", "taken_at"])
    return snapshot


def signal_attach(*, incident_id: int, sample: Sample, user: User) -> TimelineEvent:
    """Put a critical reading on an open incident's timeline. Raw samples are pruned after a day,
    so the event keeps the reading's values, and references only its host."""
    return event_record(
        incident_id=incident_id,
        kind=EventKind.SIGNAL_ATTACHED,
        actor=user,
        host=sample.host_id,
        data={
            "probe": sample.probe,
            "state": sample.state,
            "value": sample.value,
            "summary": sample.summary or sample.error,
            "taken_at": sample.taken_at.isoformat(),
        },
    )


def alert_receive(payload: alertmanager.AlertPayload) -> tuple[Incident, bool]:
    """Apply one Alertmanager webhook: a firing group opens an incident (declared by Alertmanager),
    or is noted on the one it opened; a resolved group is noted there too, once. Returns the
    incident and whether it was opened now."""
    try:
        return _receive(payload)
    except IntegrityError:
        # Another webhook of the same new group (e.g. from a second Alertmanager replica) opened
        # its incident at the same moment; this one was rolled back whole and now updates that one.
        return _receive(payload)


def _receive(payload: alertmanager.AlertPayload) -> tuple[Incident, bool]:
    count = len(payload.alerts)
    with transaction.atomic():
        group = AlertGroup.objects.select_for_update().filter(group_key=payload.group_key).first()
        incident = Incident.objects.get(pk=group.incident_id) if group else None
        if payload.status == "firing" and (incident is None or not incident.is_active):
            incident = incident_declare(
                declared_by=None,
                declared_via="Alertmanager",
                title=alertmanager.title_for(payload),
                scenario=alertmanager.scenario_for(payload.labels),
                severity=alertmanager.severity_for(payload.labels),
                affected_components=", ".join(
                    sorted({a.get("labels", {}).get("instance", "") for a in payload.alerts} - {""})
                )[:2000],
                impact=payload.annotations.get("description", "")[:4000],
            )
            if group is None:
                # Plain insert: a concurrent first webhook of this group makes it fail, not overwrite.
                AlertGroup.objects.create(group_key=payload.group_key, incident=incident, status="firing")
            else:
                group.incident, group.status, group.last_payload_at = incident, "firing", timezone.now()
                group.save(update_fields=["incident", "status", "last_payload_at"])
            return incident, True
        if incident is None:
            raise alertmanager.PayloadError("A resolved alert group that never fired here; nothing to update.")
        assert group is not None
        if group.status != payload.status:
            firing = payload.status == "firing"
            event_record(
                incident_id=incident.pk,
                kind=EventKind.SIGNAL_RECEIVED if firing else EventKind.ALERT_RESOLVED,
                component=Component.WEBHOOK,
                alert_group=group,
                data={
                    "title": alertmanager.title_for(payload),
                    "status": payload.status,
                    **({"alerts": count} if firing else {}),
                    "labels": alertmanager.kept_labels(payload),
                },
            )
        group.status = payload.status
        group.last_payload_at = timezone.now()
        group.save(update_fields=["status", "last_payload_at"])
        return incident, False
