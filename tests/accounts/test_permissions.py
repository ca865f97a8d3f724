"""What each role may do (`apps/accounts/permissions.py`): the one answer every view and template
uses. Superusers count as admins; inactive and anonymous users may do nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from apps.accounts.models import User
from apps.accounts.permissions import (
    Capabilities,
    can_approve_actions,
    can_manage_setup,
    can_read_evidence,
    can_view,
    can_work_incidents,
    capabilities_for,
    require,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Role = User.Role

# who → (view, work incidents, manage setup)
MATRIX: dict[str, tuple[bool, bool, bool]] = {
    "responder": (True, True, False),
    "manager": (True, False, False),
    "communications": (True, False, False),
    "admin": (True, True, True),
    "superuser": (True, True, True),
    "superuser_with_manager_role": (True, True, True),
    "inactive_admin": (False, False, False),
    "inactive_responder": (False, False, False),
    "anonymous": (False, False, False),
}


def _who(name: str) -> Any:
    if name == "anonymous":
        return AnonymousUser()
    if name == "superuser":
        return User.objects.create_superuser("root", "root@example.com", "x")
    if name == "superuser_with_manager_role":
        return UserFactory(username="boss", role=Role.MANAGER, is_superuser=True)
    if name.startswith("inactive_"):
        return UserFactory(username=name, role=name.removeprefix("inactive_"), is_active=False)
    return UserFactory(username=name, role=name)


@pytest.mark.parametrize(("who", "expected"), MATRIX.items())
def test_role_permissions_matrix(who: str, expected: tuple[bool, bool, bool]) -> None:
    user = _who(who)

    assert (can_view(user), can_work_incidents(user), can_manage_setup(user)) == expected


@pytest.mark.parametrize(("who", "expected"), MATRIX.items())
def test_templates_get_the_same_answers(who: str, expected: tuple[bool, bool, bool]) -> None:
    user = _who(who)
    assert capabilities_for(user) == Capabilities(
        *expected, approve_actions=can_approve_actions(user), read_evidence=can_read_evidence(user)
    )


APPROVE_AND_EVIDENCE = {
    "anonymous": (False, False),
    "responder": (False, True),
    "manager": (True, True),
    "communications": (False, False),
    "admin": (True, True),
    "inactive_manager": (False, False),
}


@pytest.mark.parametrize(("who", "expected"), APPROVE_AND_EVIDENCE.items())
def test_who_approves_actions_and_reads_evidence(who: str, expected: tuple[bool, bool]) -> None:
    user = _who(who)
    assert (can_approve_actions(user), can_read_evidence(user)) == expected


@pytest.mark.parametrize(
    ("check", "allowed", "refused"),
    [
        (can_view, "manager", "inactive_manager"),
        (can_work_incidents, "responder", "communications"),
        (can_manage_setup, "admin", "manager"),
    ],
)
def test_require_refuses_exactly_when_the_check_says_no(
    check: Callable[[Any], bool], allowed: str, refused: str
) -> None:
    require(check, _who(allowed))

    with pytest.raises(PermissionDenied, match=r"^Your role does not allow this\.$"):
        require(check, _who(refused))


def test_require_refuses_anonymous_visitors() -> None:
    with pytest.raises(PermissionDenied):
        require(can_view, AnonymousUser())


def test_a_role_change_takes_effect_at_once() -> None:
    user = UserFactory(username="pat", role=Role.MANAGER)
    assert not can_work_incidents(user)

    user.role = Role.RESPONDER
    user.save()

    assert can_work_incidents(User.objects.get(pk=user.pk))
