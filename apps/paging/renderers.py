"""The words of the events paging records, rendered when read from their `data` (never a query).

Data keys by kind (every kind also has its references: `step`, `page`, `notification`):
- `paging_started`: `first_level`, `last_level` (the first contact's level), `route` (the copied
  path's role names, in order), `wide` (the severity widened the first page), `severity`;
  the auditor as component when it caught up an escalation that never started.
- `paging_stopped`: `reason` ("incident_over"), `status` (the incident's).
- `page_sent`: `recipient`, `channel` (kind), `address`, `priority`, `outcome`, `level`, `attempt`.
- `page_failed`: `recipient`, `every_channel`; per attempt also `channel`, `address`, `priority`,
  `detail`, `fallback` (a next channel is tried), `level`, `attempt`; or `no_channel`.
- `page_audited`: `recipient`, `what` ("unsent" or "interrupted").
- `escalation_step`: `kind` (the step's), `levels` ([{level, name}]), `names` (the contacts
  paged), `timeout_seconds`, `round`, `again` (the path paged again).
- `escalated`, `repaged`: `levels`.
- `nobody_to_page`: `levels`; or `empty_path` with the auditor as component as above.
- `paging_exhausted`: `rounds`.
- `escalation_late`: `seconds`, `step_number`, `step_kind`.
- `acknowledged`: `name`, `via`.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from apps.incidents.events import label_of, register_link, renders
from apps.incidents.models import Component, EventKind, Incident, Severity, TimelineEvent
from apps.paging.models import Channel, DeliveryAttempt, EscalationStep


def duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min"


def level_items(names: dict[int, str], first: int, last: int) -> list[dict[str, Any]]:
    """Levels first…last of a path ({position: role name}) as an event stores them."""
    return [{"level": p, "name": names[p]} for p in range(first, last + 1) if p in names]


def describe_levels(items: list[dict[str, Any]]) -> str:
    names = [f"{item['level']}. {item['name']}" for item in items]
    return ("level " if len(names) == 1 else "levels ") + ", ".join(names)


def _by_auditor(event: TimelineEvent) -> str:
    return "Auditor: paging had not started for this incident. " if event.component == Component.AUDITOR else ""


@renders(EventKind.PAGING_STARTED)
def paging_started(event: TimelineEvent) -> str:
    d = event.data
    route: list[str] = d.get("route", [])
    last = int(d.get("last_level", 1))
    first_page = describe_levels(level_items(dict(enumerate(route, start=1)), last, last))
    widened = f" ({label_of(Severity, d.get('severity', ''))}: with every level above it)" if d.get("wide") else ""
    return (
        f"{_by_auditor(event)}Paging started: first page to {first_page}{widened}. "
        f"Escalation path copied: {' → '.join(route)}."
    )


@renders(EventKind.PAGING_STOPPED)
def paging_stopped(event: TimelineEvent) -> str:
    status = label_of(Incident.Status, event.data.get("status", "")).lower()
    return f"Paging stopped: {Incident(pk=event.incident_id).reference} is {status}."


@renders(EventKind.NOBODY_TO_PAGE)
def nobody_to_page(event: TimelineEvent) -> str:
    if event.data.get("empty_path"):
        return f"{_by_auditor(event)}Nobody paged: the escalation path is empty."
    return f"Nobody to page at {describe_levels(event.data.get('levels', []))}: moving on."


def _how(d: dict[str, Any]) -> str:
    kind = label_of(Channel.Kind, d.get("channel", "")).lower()
    priority = label_of(Channel.Priority, d.get("priority", "")).lower()
    return f"by {kind} to {d.get('address', '')} ({priority})"


@renders(EventKind.PAGE_SENT)
def page_sent(event: TimelineEvent) -> str:
    d = event.data
    outcome = label_of(DeliveryAttempt.Outcome, d.get("outcome", "")).lower()
    return f"Paged {d.get('recipient', '')} {_how(d)}: {outcome}."


@renders(EventKind.PAGE_FAILED)
def page_failed(event: TimelineEvent) -> str:
    d = event.data
    recipient = d.get("recipient", "")
    if d.get("no_channel"):
        return (
            f"PAGE FAILED: {recipient} has no paging channel (email, webhook or SMS). "
            "Add one on the contact's paging channels."
        )
    if d.get("every_channel"):
        return f"PAGE FAILED on every channel: {recipient} was not reached. Call them, or escalate."
    then = " Trying the next channel." if d.get("fallback") else ""
    return f"Page to {recipient} {_how(d)} FAILED: {d.get('detail', '')}.{then}"


AUDITED = {
    "unsent": "was never sent (its worker stopped); the auditor sent it",
    "interrupted": "was interrupted while sending (its worker stopped); the auditor sent it again",
}


@renders(EventKind.PAGE_AUDITED)
def page_audited(event: TimelineEvent) -> str:
    what = AUDITED.get(event.data.get("what", ""), "was sent by the auditor")
    return f"Auditor: the page to {event.data.get('recipient', '')} {what}."


@renders(EventKind.ESCALATION_STEP)
def escalation_step(event: TimelineEvent) -> str:
    d = event.data
    kind = label_of(EscalationStep.Kind, d.get("kind", ""))
    again = f" (path paged again, round {d.get('round')})" if d.get("again") else ""
    names = ", ".join(d.get("names", []))
    wait = duration(int(d.get("timeout_seconds", 0)))
    return (
        f"{kind}: paging {describe_levels(d.get('levels', []))}{again}: {names}. Waiting {wait} for an acknowledgement."
    )


@renders(EventKind.ESCALATED)
def escalated(event: TimelineEvent) -> str:
    return f"Escalated by hand: paging {describe_levels(event.data.get('levels', []))} now."


@renders(EventKind.REPAGED)
def repaged(event: TimelineEvent) -> str:
    return f"Re-paging {describe_levels(event.data.get('levels', []))} by hand."


@renders(EventKind.PAGING_EXHAUSTED)
def paging_exhausted(event: TimelineEvent) -> str:
    rounds = event.data.get("rounds", 1)
    return (
        f"Nobody acknowledged after the whole escalation path (paged {rounds} times): the incident is "
        "UNACKNOWLEDGED. Escalate or re-page by hand, or call someone."
    )


@renders(EventKind.ESCALATION_LATE)
def escalation_late(event: TimelineEvent) -> str:
    d = event.data
    kind = label_of(EscalationStep.Kind, d.get("step_kind", "")).lower()
    return (
        f"Auditor: escalation step {d.get('step_number')} ({kind}) was {duration(int(d.get('seconds', 0)))} "
        "overdue (a worker or beat was down, or its message was lost); running it now."
    )


@renders(EventKind.ACKNOWLEDGED)
def acknowledged(event: TimelineEvent) -> str:
    return f"{event.data.get('name', '')} acknowledged the page ({event.data.get('via', '')}): escalation stopped."


def _panel_url(event: TimelineEvent, anchor: str) -> str:
    return reverse("incidents:detail", args=[event.incident_id]) + f"#{anchor}"


# Pages and escalation steps show in the incident page's paging panel.
register_link("page", lambda e: (f"page #{e.page_id}", _panel_url(e, f"paging-page-{e.page_id}")))
register_link("step", lambda e: ("escalation", _panel_url(e, "paging")))
