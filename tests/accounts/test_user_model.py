"""The user model: admins are staff by their role, and a time zone must be a real one."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_an_admin_is_staff_by_role() -> None:
    user = UserFactory(username="alex", role=User.Role.ADMIN)

    assert User.objects.get(pk=user.pk).is_staff


@pytest.mark.parametrize("role", [User.Role.RESPONDER, User.Role.MANAGER, User.Role.COMMUNICATIONS])
def test_other_roles_are_not_staff_even_when_asked(role: str) -> None:
    user = UserFactory(username="pat", role=role, is_staff=True)

    assert not User.objects.get(pk=user.pk).is_staff


def test_losing_the_admin_role_loses_staff() -> None:
    user = UserFactory(username="alex", role=User.Role.ADMIN)

    user.role = User.Role.MANAGER
    user.save()

    assert not User.objects.get(pk=user.pk).is_staff


def test_a_superuser_is_staff_whatever_the_role() -> None:
    user = User.objects.create_superuser("root", "root@example.com", "x")

    assert user.role == User.Role.RESPONDER
    assert User.objects.get(pk=user.pk).is_staff


def test_new_users_are_shown_times_in_utc() -> None:
    assert UserFactory(username="pat").timezone == "UTC"


@pytest.mark.parametrize("name", ["Africa/Nairobi", "Europe/London", "America/Argentina/Buenos_Aires", "UTC"])
def test_a_known_time_zone_is_accepted(name: str) -> None:
    user = UserFactory(username="pat", timezone=name)

    user.full_clean()


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "EAT+3", "africa/nairobi", "", "../../etc/passwd"])
def test_an_unknown_time_zone_is_refused(name: str) -> None:
    user = UserFactory(username="pat")
    user.timezone = name

    with pytest.raises(ValidationError) as caught:
        user.full_clean()

    assert "timezone" in caught.value.message_dict


def test_the_refusal_says_what_a_time_zone_looks_like() -> None:
    user = UserFactory(username="pat")
    user.timezone = "Mars/Olympus_Mons"

    with pytest.raises(ValidationError) as caught:
        user.full_clean()

    assert caught.value.message_dict["timezone"] == [
        "'Mars/Olympus_Mons' is not a known time zone (for example Europe/London or Africa/Nairobi)."
    ]


def test_display_name_falls_back_to_the_username() -> None:
    assert UserFactory(username="pat", first_name="", last_name="").display_name == "pat"
    assert UserFactory(username="kim", first_name="Kim", last_name="Lee").display_name == "Kim Lee"
