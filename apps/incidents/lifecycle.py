"""The incident status lifecycle: investigating → identified → mitigating → monitoring →
resolved → closed.

Forward moves may skip states (a fix found while investigating goes straight to mitigating);
an active incident may fall back to an earlier active state when things get worse; a resolved
incident is closed, or reopened to investigating if the problem returns; closed is final.
"""

from __future__ import annotations

from apps.incidents.models import Incident

Status = Incident.Status


def allowed_transitions(current: str) -> list[str]:
    """In the order the page shows them: lifecycle order, except that reopening a resolved
    incident comes after closing it."""
    allowed = Incident.TRANSITIONS.allowed(current)
    reopening = current not in Incident.ACTIVE_STATUSES
    return sorted(
        (status for status in Status.values if status in allowed),
        key=lambda status: reopening and status in Incident.ACTIVE_STATUSES,
    )


def transition_error(current: str, target: str) -> str | None:
    """None when the move is allowed, else the sentence to show the user."""
    for status in (current, target):
        if status not in Status.values:
            return f"“{status}” is not an incident status."
    if target == current:
        return f"The incident is already {Status(current).label.lower()}."
    if target not in allowed_transitions(current):
        if current == Status.CLOSED:
            return "A closed incident cannot change status."
        if target == Status.CLOSED:
            return "Resolve the incident before closing it."
        return f"An incident cannot move from {Status(current).label.lower()} to {Status(target).label.lower()}."
    return None
