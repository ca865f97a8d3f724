"""Reads for the board, the incident page's paging panel, the channel pages and the auditor."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.accounts.permissions import can_work_incidents
from apps.contacts.models import Contact
from apps.incidents.models import Incident
from apps.paging.models import Channel, DeliveryAttempt, Escalation, EscalationStep, Page, PathLevel

State = Escalation.State
PANEL_PAGES = 30


def attention(incidents: Sequence[Incident]) -> dict[int, list[str]]:
    """The board's paging warnings for these incidents, in one query."""
    failed = (
        Page.objects.filter(escalation=OuterRef("pk"), state=Page.State.FAILED)
        .order_by()
        .values("escalation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = (
        # Open escalations: nobody acknowledged yet (what the table still lets become acknowledged).
        Escalation.objects.filter(
            incident_id__in=[i.pk for i in incidents],
            state__in=Escalation.TRANSITIONS.sources(State.ACKNOWLEDGED),
        )
        .annotate(failed_pages=Coalesce(Subquery(failed, output_field=IntegerField()), 0))
        .values_list("incident_id", "state", "next_step_due_at", "late_warning", "failed_pages", "end_reason")
    )
    now = timezone.now()
    warn_after = timedelta(minutes=settings.PAGING_OVERDUE_WARN_MINUTES)
    reasons: dict[int, list[str]] = {}
    for incident_id, state, due_at, late_warning, failed_pages, end_reason in rows:
        found = reasons.setdefault(incident_id, [])
        if state == State.EXHAUSTED:
            found.append(f"UNACKNOWLEDGED: {end_reason}" if end_reason else "UNACKNOWLEDGED after the whole path")
        if failed_pages:
            found.append(f"{failed_pages} page{'s' if failed_pages != 1 else ''} failed on every channel")
        if state == State.ACTIVE and due_at is not None and now - due_at > warn_after:
            minutes = int((now - due_at).total_seconds() // 60)
            found.append(f"Escalation overdue by {minutes} min: workers or beat down?")
        if late_warning:
            found.append(late_warning)
    return {incident_id: found for incident_id, found in reasons.items() if found}


@dataclass(frozen=True)
class LevelRow:
    level: PathLevel
    status: str  # "before", "paged", "current", "next", "later"
    label: str


def _level_rows(escalation: Escalation, levels: list[PathLevel], paged: set[int]) -> list[LevelRow]:
    step = escalation.active_step
    upcoming = (
        set(range(step.first_level, step.last_level + 1))
        if step is not None and step.first_level and step.last_level
        else set()
    )
    current = (
        set(range(escalation.current_first_level or 0, (escalation.current_level or -1) + 1))
        if escalation.state == State.ACTIVE
        else set()
    )
    rows = []
    for level in levels:
        if level.position in current:
            rows.append(LevelRow(level, "current", "paged, waiting for an answer"))
        elif level.position in upcoming:
            rows.append(LevelRow(level, "next", "next"))
        elif level.position in paged:
            rows.append(LevelRow(level, "paged", "paged"))
        elif level.position < escalation.start_level:
            rows.append(LevelRow(level, "before", "above the first contact"))
        else:
            rows.append(LevelRow(level, "later", ""))
    return rows


def next_step_text(escalation: Escalation, levels: dict[int, PathLevel]) -> str:
    step = escalation.active_step
    if step is None or escalation.state != State.ACTIVE:
        return ""
    if step.kind == EscalationStep.Kind.EXHAUST:
        return "mark the incident unacknowledged (end of the path)"
    names = [levels[p].role_name for p in range(step.first_level or 0, (step.last_level or -1) + 1) if p in levels]
    what = f"page {', '.join(names)}" if names else "page the next level"
    if step.kind == EscalationStep.Kind.REPEAT:
        what += " (the path again)"
    return what


def panel_context(incident: Incident, user: Any) -> dict[str, Any]:
    """The paging panel of the incident page."""
    escalation = (
        Escalation.objects.select_related("active_step", "acknowledged_by_user", "acknowledged_by_contact")
        .filter(incident=incident)
        .first()
    )
    context: dict[str, Any] = {
        "escalation": escalation,
        "can_act": can_work_incidents(user),
        "incident_active": incident.is_active,
        "now": timezone.now(),
    }
    if escalation is None:
        return context
    levels = list(escalation.levels.all())
    pages = list(
        escalation.pages.select_related("step")
        .prefetch_related(Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("started_at", "pk")))
        .order_by("-created_at", "-pk")[:PANEL_PAGES]
    )
    paged = set(escalation.pages.values_list("level", flat=True).distinct())
    due_at: datetime | None = escalation.next_step_due_at if escalation.state == State.ACTIVE else None
    context.update(
        {
            "levels": _level_rows(escalation, levels, paged),
            "pages": pages,
            "failed_pages": [page for page in pages if page.state == Page.State.FAILED],
            "next_step": next_step_text(escalation, {level.position: level for level in levels}),
            "next_due_at": due_at,
            "overdue": due_at is not None and due_at < context["now"],
            "active_step_id": escalation.active_step_id or "",
        }
    )
    return context


@dataclass(frozen=True)
class ContactChannels:
    contact: Contact
    channels: list[Channel]

    @property
    def needs_attention(self) -> bool:
        return not self.channels or any(channel.needs_verification for channel in self.channels)


def channel_overview() -> list[ContactChannels]:
    """Every contact with its paging channels, primary first (fixed number of queries)."""
    contacts = Contact.objects.select_related("role").prefetch_related(
        Prefetch("paging_channels", queryset=Channel.objects.order_by("priority"))
    )
    return [ContactChannels(contact, list(contact.paging_channels.all())) for contact in contacts]


def stale_channels() -> list[Channel]:
    """Channels never verified or verified longer ago than `CONTACT_VERIFY_DAYS`."""
    cutoff = timezone.now() - timedelta(days=settings.CONTACT_VERIFY_DAYS)
    return list(
        Channel.objects.filter(Q(verified_at__isnull=True) | Q(verified_at__lt=cutoff))
        .select_related("contact__role")
        .order_by("contact__role__name", "contact__name", "priority")
    )


def contacts_without_channels() -> list[Contact]:
    return list(Contact.objects.filter(paging_channels__isnull=True).select_related("role").order_by("name"))


def overdue_step_ids(now: datetime) -> list[int]:
    """Active steps past their due time and the grace period: their message was lost, or the
    worker or beat is down."""
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
