"""What each role may do: the one place that answers "may this user do that?".

Views raise `PermissionDenied` through `require(...)`; templates read the same answers from the
`can` context variable, so a control is shown exactly when its view would accept it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied

from apps.accounts.models import User

Role = User.Role


def _role(user: Any) -> str | None:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    if getattr(user, "is_superuser", False):
        return Role.ADMIN
    return str(user.role)


def role_of(user: Any) -> str | None:
    """The user's role, or None for anonymous and deactivated users."""
    return _role(user)


def can_view(user: Any) -> bool:
    """Every signed-in role sees incidents, runbooks, contacts and the board."""
    return _role(user) is not None


def can_work_incidents(user: Any) -> bool:
    """Declare incidents, change them, tick the checklist, log notifications, write notes."""
    return _role(user) in {Role.RESPONDER, Role.ADMIN}


def can_approve_actions(user: Any) -> bool:
    """Approve or reject a dangerous remediation run someone else requested (subject to the
    action's approval rule)."""
    return _role(user) in {Role.MANAGER, Role.ADMIN}


def can_read_evidence(user: Any) -> bool:
    """Download forensic bundles and see backups: the people who handle the incident, not the
    communications role."""
    return _role(user) in {Role.RESPONDER, Role.MANAGER, Role.ADMIN}


def can_manage_setup(user: Any) -> bool:
    """Edit contacts, the escalation path, runbooks and users."""
    return _role(user) == Role.ADMIN


@dataclass(frozen=True)
class Capabilities:
    view: bool
    work_incidents: bool
    manage_setup: bool
    approve_actions: bool
    read_evidence: bool


def capabilities_for(user: Any) -> Capabilities:
    return Capabilities(
        view=can_view(user),
        work_incidents=can_work_incidents(user),
        manage_setup=can_manage_setup(user),
        approve_actions=can_approve_actions(user),
        read_evidence=can_read_evidence(user),
    )


def require(check: Callable[[Any], bool], user: Any) -> None:
    if not check(user):
        raise PermissionDenied("Your role does not allow this.")
