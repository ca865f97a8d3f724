"""Health tasks: thin. The fan-out runs on beat's schedule and sends one sampling task to each
host's own queue; the host's worker measures itself (the web process never measures a remote
host)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from apps.core.jobs import enqueue, serves_host
from apps.health import live, services
from apps.health.models import Host, SecuritySnapshot
from apps.health.probes import sample_all
from apps.health.probes.security import TAKERS

logger = logging.getLogger(__name__)


@shared_task(name="health.fan_out_samples", ignore_result=True)
def fan_out_samples() -> None:
    """Ask every host to sample itself. A silent host turns unreachable on open pages by the age
    of its newest sample (judged in the page), so nothing needs re-rendering here."""
    for host in Host.objects.all():
        # A sample that waited longer than an interval is worthless: it expires in the queue.
        enqueue("health.sample_host", host.pk, queue=host.queue, expires=settings.HEALTH_SAMPLE_SECONDS)


@shared_task(name="health.sample_host", ignore_result=True, acks_late=False)
def sample_host(host_id: int) -> None:
    """Run every probe of this host and publish the readings (only a host's own worker measures it)."""
    host = Host.objects.filter(pk=host_id).first()
    if host is None:
        return
    if not serves_host(host.name):
        logger.warning("a sample of %s reached the worker of %s; ignored", host.name, settings.INCIDENTCENTER_HOST)
        return
    services.readings_record(host=host, readings=sample_all(host))
    live.publish_host(host)


@shared_task(name="health.take_snapshot", ignore_result=True)
def take_snapshot(snapshot_id: int) -> None:
    """Take an on-demand security snapshot on this host (claimed once)."""
    snapshot = services.snapshot_claim(snapshot_id)
    if snapshot is None or not serves_host(snapshot.host.name):
        return
    try:
        data, error = TAKERS[SecuritySnapshot.Kind(snapshot.kind)](snapshot.host), ""
    except Exception as exc:  # shown in the snapshot, never crashes the worker
        data, error = {}, f"{type(exc).__name__}: {exc}"
    services.snapshot_store(snapshot=snapshot, data=data, error=error)
    live.publish_snapshot(snapshot)


@shared_task(name="health.compact_history", ignore_result=True)
def compact_history() -> None:
    """Keep history bounded: minutes for 30 days, raw samples for 24 hours."""
    services.history_fold()
    services.history_prune()
