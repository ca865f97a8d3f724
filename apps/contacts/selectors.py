from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from apps.contacts.models import Contact, ContactRole, EscalationLevel


@dataclass
class PathLevel:
    level: EscalationLevel
    contacts: list[Contact]


def escalation_path() -> list[PathLevel]:
    """The path in order, each level with its role's contacts (fixed number of queries)."""
    levels = EscalationLevel.objects.select_related("role").prefetch_related(
        Prefetch("role__contacts", queryset=Contact.objects.select_related("role", "user").order_by("name"))
    )
    return [PathLevel(level, list(level.role.contacts.all())) for level in levels]


def roles_with_contacts() -> list[ContactRole]:
    return list(
        ContactRole.objects.prefetch_related(
            Prefetch("contacts", queryset=Contact.objects.select_related("user").order_by("name"))
        ).order_by("name")
    )
