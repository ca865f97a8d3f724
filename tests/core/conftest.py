"""Fixtures for the core tests: fast password hashing, a clean Redis heartbeat state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.test import override_settings

from apps.core.heartbeat import KEY_PREFIX, redis_client


@pytest.fixture(autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """PBKDF2 takes over a second per password on the test machines; the tests check roles and
    sign-in, not hashing strength."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def heartbeats() -> Iterator[redis.Redis]:
    """A Redis client on the test's Redis database with no worker heartbeat in it, before and after."""
    client = redis_client()

    def clear() -> None:
        keys = list(client.scan_iter(match=f"{KEY_PREFIX}*"))
        if keys:
            client.delete(*keys)

    clear()
    yield client
    clear()
    client.close()
