"""Carry the text timeline over to typed events: where an old entry's words say unambiguously what
happened, it becomes that kind with its references and values; every other entry keeps its words
as a `legacy` event (only rows written before this migration may)."""

from __future__ import annotations

import re
from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

SEVERITIES = {"SEV1": "sev1", "SEV2": "sev2", "SEV3": "sev3", "SEV4": "sev4"}
SCENARIOS = {
    "System Outage": "system_outage",
    "Data Corruption": "data_corruption",
    "Security Breach": "security_breach",
    "Database Failure": "database_failure",
    "Website Defacement": "website_defacement",
}
STATUSES = {
    "Investigating": "investigating",
    "Identified": "identified",
    "Mitigating": "mitigating",
    "Monitoring": "monitoring",
    "Resolved": "resolved",
    "Closed": "closed",
}
METHODS = {
    "phone call": "phone",
    "sms": "sms",
    "email": "email",
    "chat": "chat",
    "in person": "in_person",
    "other": "other",
}
UPDATE_STATUSES = {
    "Investigating": "investigating",
    "Identified": "identified",
    "Monitoring": "monitoring",
    "Resolved": "resolved",
}
PROBES = {
    "CPU": "cpu",
    "Load average": "load",
    "Memory": "memory",
    "Swap": "swap",
    "Disks": "disk",
    "Uptime": "uptime",
    "Top processes": "processes",
    "PostgreSQL": "postgres",
    "Redis": "redis",
    "Services": "services",
    "Website": "website",
    "Backups": "backups",
}
RUN_REF = re.compile(r"\(run #(\d+)\)")

Parsed = tuple[str, dict[str, Any], dict[str, Any]]  # kind, data, refs


def _incident_kinds(kind: str, text: str) -> Parsed | None:
    if kind == "declared" and (m := re.fullmatch(r"Declared (SEV\d) (.+?): (.*?)(?: \(by (.+)\))?", text)):
        if m[1] in SEVERITIES and m[2] in SCENARIOS:
            data = {"severity": SEVERITIES[m[1]], "scenario": SCENARIOS[m[2]], "title": m[3], "via": m[4] or ""}
            return "declared", data, {}
    if kind == "status" and (m := re.fullmatch(r"Status: (\w+) → (\w+)", text)):
        if m[1] in STATUSES and m[2] in STATUSES:
            return "status_changed", {"from": STATUSES[m[1]], "to": STATUSES[m[2]]}, {}
    if kind == "severity" and (m := re.fullmatch(r"Severity: (SEV\d) → (SEV\d)", text)):
        if m[1] in SEVERITIES and m[2] in SEVERITIES:
            return "severity_changed", {"from": SEVERITIES[m[1]], "to": SEVERITIES[m[2]]}, {}
    if kind == "role" and (m := re.fullmatch(r"(Commander|Communication coordinator): (.+)", text)):
        role = "commander" if m[1] == "Commander" else "coordinator"
        return "role_assigned", {"role": role, "user": None, "name": "" if m[2] == "nobody" else m[2]}, {}
    if kind == "details" and (m := re.fullmatch(r"Title: (.+)", text)):
        return "details_changed", {"field": "title", "value": m[1]}, {}
    if kind == "checklist":
        if m := re.fullmatch(r"Done: (.+) \(verified by run #(\d+)\)", text):
            return "step_done", {"title": m[1], "verified": True}, {"run_id": int(m[2])}
        if m := re.fullmatch(r"Done: (.+)", text):
            return "step_done", {"title": m[1]}, {}
        if m := re.fullmatch(r"Skipped: (.+?) — (.+)", text):
            return "step_skipped", {"title": m[1], "reason": m[2]}, {}
        if m := re.fullmatch(r"Reopened step: (.+)", text):
            return "step_reopened", {"title": m[1]}, {}
    if kind == "notification":
        if m := re.fullmatch(r"Notified (.+?) by ([a-z ]+?)(?:: (.*))?", text):
            if m[2] in METHODS:
                return "notification_recorded", {"recipient": m[1], "method": METHODS[m[2]], "note": m[3] or ""}, {}
        if m := re.fullmatch(r"(.+) acknowledged", text):
            return "notification_acknowledged", {"recipient": m[1]}, {}
    return None


def _run_kinds(text: str) -> Parsed | None:
    m = RUN_REF.search(text)
    if m is None:
        return None
    refs = {"run_id": int(m[1])}
    if text.startswith("Requested (awaiting approval): "):
        return "run_requested", {"awaiting_approval": True}, refs
    if text.startswith("Requested: "):
        return "run_requested", {"awaiting_approval": False}, refs
    if b := re.fullmatch(r"BREAK GLASS — ran without approval: .*\. Reason: (.*)", text, re.S):
        return "break_glass", {"reason": b[1]}, refs
    if text.startswith("Approved: "):
        return "run_approved", {}, refs
    if r := re.fullmatch(r"Rejected: .*? — (.*)", text, re.S):
        return "run_rejected", {"note": r[1]}, refs
    if text.startswith("Cancelled: "):
        note = text.split(" — ", 1)[1] if " — " in text else ""
        return "run_cancelled", {"note": note}, refs
    if text.startswith("Kept (revert timer stopped): "):
        return "run_kept", {}, refs
    if text.startswith("Started: "):
        return "run_started", {}, refs
    if f := re.fullmatch(r"(Succeeded|Failed): .*? — (.*?)(?: \(reverts by itself in \d+ min unless kept\))?", text, re.S):
        return "run_finished", {"state": f[1].lower(), "summary": f[2]}, refs
    if lost := re.fullmatch(r"Lost: .*? — (.*)", text, re.S):
        return "run_lost", {"summary": lost[1]}, refs
    return None


def _communication_kinds(text: str) -> Parsed | None:
    posted = re.fullmatch(r"(Public|Internal) update posted: (\w+)(?: — “(.*)”)?( \(a correction\))?", text, re.S)
    if posted and posted[2] in UPDATE_STATUSES:
        data = {
            "audience": posted[1].lower(),
            "status": UPDATE_STATUSES[posted[2]],
            "correction": bool(posted[4]),
            **({"title": posted[3]} if posted[3] else {}),
        }
        return "update_posted", data, {"update": True}
    return None


def _signal_kinds(text: str) -> Parsed | None:
    if m := re.fullmatch(r"Alertmanager: (.+) is firing again \((\d+) alerts?\)", text, re.S):
        return "signal_received", {"title": m[1], "status": "firing", "alerts": int(m[2])}, {"alert_group": True}
    if m := re.fullmatch(r"Alertmanager: (.+) resolved", text, re.S):
        return "alert_resolved", {"title": m[1], "status": "resolved"}, {"alert_group": True}
    if (m := re.fullmatch(r"Signal attached: (.+?) critical on ([a-z0-9-]+) — (.*)", text, re.S)) and m[1] in PROBES:
        return "signal_attached", {"probe": PROBES[m[1]], "state": "critical", "summary": m[3]}, {"host": m[2]}
    return None


def parse(kind: str, text: str) -> Parsed | None:
    if kind == "action":
        return _run_kinds(text)
    if kind == "communication":
        return _communication_kinds(text)
    if kind == "signal":
        return _signal_kinds(text)
    return _incident_kinds(kind, text)


def _resolve_refs(apps: StateApps, entry: Any, kind: str, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any] | None:
    """The rows an entry's words point to, or None when one cannot be found (it stays legacy)."""
    found: dict[str, Any] = {}
    if "run_id" in refs:
        if not apps.get_model("remediation", "ActionRun").objects.filter(pk=refs["run_id"]).exists():
            return None
        found["run_id"] = refs["run_id"]
    if "update" in refs:
        candidates = apps.get_model("comms", "Update").objects.filter(
            incident_id=entry.incident_id, audience=data["audience"], status=data["status"]
        )
        if data.get("title"):
            candidates = candidates.filter(title=data["title"])
        # The update written in the same transaction as the entry: the one closest in time.
        update = min(candidates, key=lambda u: abs((u.created_at - entry.created_at).total_seconds()), default=None)
        if update is None:
            return None
        found["update_id"] = update.pk
    if "alert_group" in refs:
        group = apps.get_model("health", "AlertGroup").objects.filter(incident_id=entry.incident_id).first()
        if group is None:
            return None
        found["alert_group_id"] = group.pk
    if "host" in refs:
        host = apps.get_model("health", "Host").objects.filter(name=refs["host"]).first()
        if host is None:
            return None
        found["host_id"] = host.pk
    if kind.startswith("step_"):
        found["item_id"] = (
            apps.get_model("incidents", "ChecklistItem")
            .objects.filter(incident_id=entry.incident_id, title=data["title"])
            .values_list("pk", flat=True)
            .first()
        )
    return found


def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    TimelineEntry = apps.get_model("incidents", "TimelineEntry")
    TimelineEvent = apps.get_model("incidents", "TimelineEvent")
    batch = []
    for entry in TimelineEntry.objects.order_by("pk").iterator(chunk_size=2000):
        event = TimelineEvent(
            incident_id=entry.incident_id,
            at=entry.created_at,
            actor_id=entry.author_id,
            component="" if entry.author_id else "system",
        )
        parsed = parse(entry.kind, entry.summary)
        refs = _resolve_refs(apps, entry, *parsed) if parsed else None
        if entry.kind == "note":
            event.kind, event.body = "note_added", entry.body
        elif parsed and refs is not None:
            event.kind, event.data = parsed[0], parsed[1]
            for name, value in refs.items():
                setattr(event, name, value)
        else:
            event.kind, event.legacy_text = "legacy", entry.summary
        batch.append(event)
        if len(batch) >= 2000:
            TimelineEvent.objects.bulk_create(batch)
            batch = []
    TimelineEvent.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0008_timelineevent")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
