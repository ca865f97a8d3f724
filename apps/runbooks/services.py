"""State changes of runbooks, and loading the procedures into the database."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.contacts.models import ContactRole
from apps.contacts.services import escalation_path_seed
from apps.runbooks import procedures
from apps.runbooks.models import Runbook, RunbookStep


def procedures_load() -> list[Runbook]:
    """Write the procedures (contact roles, escalation path, runbooks) if they are missing.

    Idempotent: a runbook that already exists is left as the admins have edited it.
    """
    with transaction.atomic():
        escalation_path_seed(path=procedures.ESCALATION_PATH)
        loaded = [
            _load_runbook(Runbook.Kind.INITIAL_RESPONSE, "", procedures.INITIAL_RESPONSE),
            *(
                _load_runbook(Runbook.Kind.SCENARIO, scenario, procedure)
                for scenario, procedure in procedures.SCENARIOS.items()
            ),
            _load_runbook(Runbook.Kind.POST_EMERGENCY, "", procedures.POST_EMERGENCY),
        ]
    return loaded


def _load_runbook(kind: str, scenario: str, procedure: procedures.Procedure) -> Runbook:
    lookup = {"scenario": scenario} if scenario else {"kind": kind}
    runbook = Runbook.objects.filter(**lookup).first()
    if runbook is not None:
        return runbook
    first_contact = ContactRole.objects.get(name=procedure.first_contact) if procedure.first_contact else None
    runbook = Runbook.objects.create(
        kind=kind,
        scenario=scenario or None,
        title=procedure.title,
        summary=procedure.summary,
        first_contact_role=first_contact,
        last_reviewed_at=timezone.now(),
    )
    RunbookStep.objects.bulk_create(
        RunbookStep(runbook=runbook, position=position, title=step.title, guidance=step.guidance, action=step.action)
        for position, step in enumerate(procedure.steps, start=1)
    )
    return runbook


def runbook_mark_reviewed(*, runbook: Runbook, user: User) -> Runbook:
    runbook.last_reviewed_at = timezone.now()
    runbook.last_reviewed_by = user
    runbook.save(update_fields=["last_reviewed_at", "last_reviewed_by", "updated_at"])
    return runbook


def runbook_save(*, runbook: Runbook, fields: dict[str, object], steps: list[dict[str, object]]) -> Runbook:
    """Save a runbook and replace its steps, numbered in the order given. Incidents already
    declared keep the checklist they were given."""
    with transaction.atomic():
        for name, value in fields.items():
            setattr(runbook, name, value)
        runbook.save()
        runbook.steps.all().delete()
        RunbookStep.objects.bulk_create(
            RunbookStep(
                runbook=runbook,
                position=position,
                title=str(step["title"]),
                guidance=str(step.get("guidance", "")),
                action=str(step.get("action", "")),
            )
            for position, step in enumerate(steps, start=1)
        )
    return runbook
