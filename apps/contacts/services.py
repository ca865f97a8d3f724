"""State changes of contacts and the escalation path."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.contacts.models import Contact, ContactRole, EscalationLevel


def contact_mark_verified(*, contact: Contact) -> Contact:
    contact.last_verified_at = timezone.now()
    contact.save(update_fields=["last_verified_at"])
    return contact


def escalation_path_seed(*, path: list[tuple[str, int]]) -> list[EscalationLevel]:
    """Create the roles and, if the path is empty, its levels in order. Never reorders an
    existing path: admins own it once it exists."""
    with transaction.atomic():
        roles = [ContactRole.objects.get_or_create(name=name)[0] for name, _ in path]
        if not EscalationLevel.objects.exists():
            for position, (role, (_, timeout)) in enumerate(zip(roles, path, strict=True), start=1):
                EscalationLevel.objects.create(position=position, role=role, ack_timeout_minutes=timeout)
    return list(EscalationLevel.objects.select_related("role"))


def escalation_level_add(*, role: ContactRole, ack_timeout_minutes: int) -> EscalationLevel:
    with transaction.atomic():
        last = EscalationLevel.objects.select_for_update().aggregate(last=Max("position"))["last"] or 0
        return EscalationLevel.objects.create(position=last + 1, role=role, ack_timeout_minutes=ack_timeout_minutes)


def escalation_level_move(*, level_id: int, direction: int) -> None:
    """Swap a level with its neighbour above (-1) or below (+1); a move past either end does nothing."""
    if direction not in (-1, 1):
        raise ValueError("direction must be -1 or 1")
    with transaction.atomic():
        levels = list(EscalationLevel.objects.select_for_update().order_by("position"))
        index = next((i for i, level in enumerate(levels) if level.pk == level_id), None)
        if index is None:
            raise EscalationLevel.DoesNotExist
        other = index + direction
        if not 0 <= other < len(levels):
            return
        levels[index], levels[other] = levels[other], levels[index]
        _renumber(levels)


def escalation_level_remove(*, level_id: int) -> None:
    with transaction.atomic():
        levels = list(EscalationLevel.objects.select_for_update().order_by("position"))
        EscalationLevel.objects.filter(pk=level_id).delete()
        _renumber([level for level in levels if level.pk != level_id])


def _renumber(levels: list[EscalationLevel]) -> None:
    # Positions are unique: park them out of the way first, then write the final order.
    offset = len(levels) + 1000
    for level in levels:
        EscalationLevel.objects.filter(pk=level.pk).update(position=level.position + offset)
    for position, level in enumerate(levels, start=1):
        EscalationLevel.objects.filter(pk=level.pk).update(position=position)
