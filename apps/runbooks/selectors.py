from __future__ import annotations

from django.db.models import Count, Prefetch, Q

from apps.runbooks.models import Runbook, RunbookStep

PHASE_ORDER = {Runbook.Kind.INITIAL_RESPONSE: 0, Runbook.Kind.SCENARIO: 1, Runbook.Kind.POST_EMERGENCY: 2}


def runbooks_overview() -> list[Runbook]:
    return list(
        Runbook.objects.select_related("first_contact_role", "last_reviewed_by")
        .annotate(step_count=Count("steps"))
        .order_by("kind", "title")
    )


def runbook_sections(runbook: Runbook) -> list[Runbook]:
    """What a responder follows: for a scenario, Initial Response, its own steps, Post-Emergency."""
    wanted = Q(pk=runbook.pk)
    if runbook.kind == Runbook.Kind.SCENARIO:
        wanted |= ~Q(kind=Runbook.Kind.SCENARIO)
    sections = Runbook.objects.filter(wanted).prefetch_related(
        Prefetch("steps", queryset=RunbookStep.objects.order_by("position"))
    )
    return sorted(sections, key=lambda section: PHASE_ORDER[Runbook.Kind(section.kind)])
