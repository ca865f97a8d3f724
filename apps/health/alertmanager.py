"""Prometheus Alertmanager webhooks (payload version 4): reading and checking a payload, and what
its labels mean here. Applying it (a firing group opens or updates an incident, deduplicated by its
group key; a resolved group adds a timeline event) is `apps.health.services.alert_receive`.

Scenario and severity come from the alerts' labels: `scenario` (one of the procedures'
scenarios) or the alertname mapped by ALERTMANAGER_SCENARIOS, and `severity` mapped by
ALERTMANAGER_SEVERITIES.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.incidents.models import Severity
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


def title_for(payload: AlertPayload) -> str:
    name = payload.labels.get("alertname", "Alert")
    summary = payload.annotations.get("summary") or payload.annotations.get("description") or ""
    return f"{name}: {summary}"[:200] if summary else name[:200]


# The labels an alert group's events keep: what it is, and what decided its scenario and severity.
KEPT_LABELS = ("alertname", "severity", "scenario", "instance", "job")


def kept_labels(payload: AlertPayload) -> dict[str, str]:
    return {name: payload.labels[name][:200] for name in KEPT_LABELS if name in payload.labels}
