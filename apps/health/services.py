"""State changes of health data: recording samples, folding and pruning history, on-demand
snapshots, and attaching a signal to an incident."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Avg, Count, Max, Min
from django.db.models.functions import TruncMinute
from django.utils import timezone

from apps.accounts.models import User
from apps.core.dispatch import enqueue
from apps.health.models import STATE_RANK, Host, MinuteAggregate, Probe, Sample, SecuritySnapshot, State
from apps.health.probes import Reading

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
    from apps.health import tasks

    with transaction.atomic():
        snapshot = SecuritySnapshot.objects.create(host=host, kind=kind, requested_by=user)
        enqueue(tasks.take_snapshot, snapshot.pk, queue=host.queue)
    return snapshot


def snapshot_claim(snapshot_id: int) -> SecuritySnapshot | None:
    """The worker's claim: only a requested snapshot is taken, and only once."""
    claimed = SecuritySnapshot.objects.filter(pk=snapshot_id, status=SecuritySnapshot.Status.REQUESTED).update(
        status=SecuritySnapshot.Status.TAKING
    )
    if not claimed:
        return None
    return SecuritySnapshot.objects.select_related("host").get(pk=snapshot_id)


def snapshot_store(*, snapshot: SecuritySnapshot, data: dict[str, object], error: str = "") -> SecuritySnapshot:
    snapshot.data = data
    snapshot.error = error[:500]
    snapshot.status = SecuritySnapshot.Status.FAILED if error else SecuritySnapshot.Status.DONE
    snapshot.taken_at = timezone.now()
    snapshot.save(update_fields=["data", "error", "status", "taken_at"])
    return snapshot


def signal_attach(*, incident_id: int, sample: Sample, user: User) -> None:
    """Put a critical reading on an open incident's timeline."""
    from apps.incidents.models import TimelineEntry
    from apps.incidents.services import timeline_record

    label = Probe(sample.probe).label
    timeline_record(
        incident_id=incident_id,
        kind=TimelineEntry.Kind.SIGNAL,
        summary=f"Signal attached: {label} critical on {sample.host.name} — {sample.summary or sample.error}",
        author=user,
    )
