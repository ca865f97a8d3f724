"""Fixtures for the account tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings


@pytest.fixture(autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """PBKDF2 takes over a second per password on the test machines; the tests check roles and
    sign-in, not hashing strength."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield
