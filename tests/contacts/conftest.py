"""Fixtures for the contact and escalation path tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from apps.contacts.models import ContactRole, EscalationLevel
from apps.runbooks.models import Runbook


@pytest.fixture(autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """PBKDF2 takes over a second per password on the test machines; the tests check roles and
    sign-in, not hashing strength."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def path(procedures: list[Runbook]) -> list[EscalationLevel]:
    """The seed's escalation path: System Administrator, Database Administrator, Technical Lead,
    Project Manager, Infrastructure Provider."""
    return list(EscalationLevel.objects.select_related("role").order_by("position"))


@pytest.fixture
def role(procedures: list[Runbook]) -> ContactRole:
    return ContactRole.objects.get(name="Database Administrator")
