"""Who may do what with stakeholder communications (the `require(...)` helpers of accounts apply).

Posting an update on an incident needs the communications role or being that incident's
communication coordinator; admins, whose role includes every other, may too. Every signed-in
role reads updates, internal ones included.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from apps.accounts.models import User
from apps.accounts.permissions import can_view
from apps.incidents.models import Incident

Role = User.Role


def _role(user: Any) -> str | None:
    if not can_view(user):
        return None
    return Role.ADMIN if getattr(user, "is_superuser", False) else str(user.role)


def can_post_updates(user: Any, incident: Incident) -> bool:
    role = _role(user)
    if role is None:
        return False
    return role in {Role.COMMUNICATIONS, Role.ADMIN} or (
        incident.coordinator_id is not None and incident.coordinator_id == user.pk
    )


def can_manage_status_page(user: Any) -> bool:
    """Announce and cancel maintenance windows, retry failed mail."""
    return _role(user) in {Role.COMMUNICATIONS, Role.ADMIN}


def require_post_updates(user: Any, incident: Incident) -> None:
    if not can_post_updates(user, incident):
        raise PermissionDenied(
            "Only the incident's communication coordinator or the communications role may post updates."
        )
