"""Prometheus Alertmanager webhooks (payload version 4): a firing group opens or updates an
incident, deduplicated by its group key; a resolved group adds a timeline entry.

Scenario and severity come from the alerts' labels: `scenario` (one of the procedures'
scenarios) or the alertname mapped by ALERTMANAGER_SCENARIOS, and `severity` mapped by
ALERTMANAGER_SEVERITIES.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.health.models import AlertGroup
from apps.incidents.models import Incident, Severity, TimelineEntry
from apps.incidents.services import incident_declare, timeline_record
from apps.runbooks.models import Scenario

MAX_ALERTS = 1000


class PayloadError(ValueError):
    """The webhook body is not an Alertmanager v4 payload; nothing was changed."""


@dataclass(frozen=True)
class AlertPayload:
    group_key: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    alerts: list[dict[str, Any]]
    external_url: str


def parse(body: Any) -> AlertPayload:
    if not isinstance(body, dict):
        raise PayloadError("The body must be a JSON object.")
    if str(body.get("version")) != "4":
        raise PayloadError("Only Alertmanager webhook payload version 4 is supported.")
    group_key = body.get("groupKey")
    if not isinstance(group_key, str) or not group_key or len(group_key) > 500:
        raise PayloadError("groupKey must be a non-empty string of at most 500 characters.")
    status = body.get("status")
    if status not in ("firing", "resolved"):
        raise PayloadError("status must be 'firing' or 'resolved'.")
    alerts = body.get("alerts")
    if not isinstance(alerts, list) or not alerts or len(alerts) > MAX_ALERTS:
        raise PayloadError(f"alerts must be a list of 1 to {MAX_ALERTS} alerts.")
    if not all(isinstance(a, dict) and isinstance(a.get("labels", {}), dict) for a in alerts):
        raise PayloadError("every alert must be an object with a labels object.")
    labels = _strings(body.get("commonLabels"), "commonLabels")
    annotations = _strings(body.get("commonAnnotations"), "commonAnnotations")
    if not labels:
        labels = _strings(alerts[0].get("labels"), "labels")
    return AlertPayload(group_key, status, labels, annotations, alerts, str(body.get("externalURL", ""))[:500])


def _strings(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise PayloadError(f"{name} must be an object of strings.")
    return value


def scenario_for(labels: dict[str, str]) -> str:
    if labels.get("scenario") in Scenario.values:
        return labels["scenario"]
    mapped = settings.ALERTMANAGER_SCENARIOS.get(labels.get("alertname", ""))
    return mapped if mapped in Scenario.values else Scenario.SYSTEM_OUTAGE


def severity_for(labels: dict[str, str]) -> str:
    mapped = settings.ALERTMANAGER_SEVERITIES.get(labels.get("severity", "").lower())
    return mapped if mapped in Severity.values else Severity.SEV2


def _title(payload: AlertPayload) -> str:
    name = payload.labels.get("alertname", "Alert")
    summary = payload.annotations.get("summary") or payload.annotations.get("description") or ""
    return f"{name}: {summary}"[:200] if summary else name[:200]


def alert_receive(payload: AlertPayload) -> tuple[Incident, bool]:
    """Apply one webhook; returns the incident and whether it was opened now."""
    try:
        return _receive(payload)
    except IntegrityError:
        # Another webhook of the same new group (e.g. from a second Alertmanager replica) opened
        # its incident at the same moment; this one was rolled back whole and now updates that one.
        return _receive(payload)


def _receive(payload: AlertPayload) -> tuple[Incident, bool]:
    count = len(payload.alerts)
    with transaction.atomic():
        group = AlertGroup.objects.select_for_update().filter(group_key=payload.group_key).first()
        incident = Incident.objects.get(pk=group.incident_id) if group else None
        if payload.status == "firing" and (incident is None or not incident.is_active):
            incident = incident_declare(
                declared_by=None,
                declared_via="Alertmanager",
                title=_title(payload),
                scenario=scenario_for(payload.labels),
                severity=severity_for(payload.labels),
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
            raise PayloadError("A resolved alert group that never fired here; nothing to update.")
        assert group is not None
        if group.status != payload.status:
            summary = (
                f"Alertmanager: {_title(payload)} is firing again ({count} alert{'s' if count != 1 else ''})"
                if payload.status == "firing"
                else f"Alertmanager: {_title(payload)} resolved"
            )
            timeline_record(incident_id=incident.pk, kind=TimelineEntry.Kind.SIGNAL, summary=summary)
        group.status = payload.status
        group.last_payload_at = timezone.now()
        group.save(update_fields=["status", "last_payload_at"])
        return incident, False
