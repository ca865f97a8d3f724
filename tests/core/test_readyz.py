"""/readyz: ready to serve when the database and channel layer answer and, with Redis, at least
one Celery worker has a live heartbeat."""

from __future__ import annotations

import pytest
import redis
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from apps.core.heartbeat import KEY_PREFIX, record_heartbeat

pytestmark = pytest.mark.django_db

URL = reverse("readyz")
IN_MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def test_without_redis_it_checks_the_database_and_the_channel_layer(client: Client) -> None:
    with override_settings(REDIS_URL="", CHANNEL_LAYERS=IN_MEMORY_LAYER):
        response = client.get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {"ok": True, "vendor": connection.vendor},
            "channel_layer": {"ok": True, "backend": "InMemoryChannelLayer"},
        },
    }


def test_it_is_never_cached_and_only_answers_get(client: Client) -> None:
    with override_settings(REDIS_URL="", CHANNEL_LAYERS=IN_MEMORY_LAYER):
        response = client.get(URL)
        assert client.post(URL).status_code == 405

    assert "no-store" in response["Cache-Control"]


def test_it_needs_no_sign_in(client: Client) -> None:
    with override_settings(REDIS_URL="", CHANNEL_LAYERS=IN_MEMORY_LAYER):
        response = client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.redis
def test_with_redis_and_no_worker_heartbeat_it_is_unavailable(client: Client, heartbeats: redis.Redis) -> None:
    response = client.get(URL)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["worker"] == {"ok": False, "error": "no worker heartbeat", "workers": []}
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"] == {"ok": True, "backend": "RedisPubSubChannelLayer"}


@pytest.mark.redis
def test_with_a_live_heartbeat_it_is_ready(client: Client, heartbeats: redis.Redis) -> None:
    record_heartbeat(heartbeats, "web-1@host-a")
    record_heartbeat(heartbeats, "db-1@host-b")

    response = client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["worker"] == {"ok": True, "workers": ["db-1@host-b", "web-1@host-a"]}
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is True


@pytest.mark.redis
def test_a_heartbeat_expires_after_three_intervals(heartbeats: redis.Redis) -> None:
    with override_settings(WORKER_HEARTBEAT_SECONDS=7):
        record_heartbeat(heartbeats, "web-1@host-a")

    assert 0 < heartbeats.ttl(f"{KEY_PREFIX}web-1@host-a") <= 21


@pytest.mark.redis
def test_when_redis_does_not_answer_it_is_unavailable(client: Client, heartbeats: redis.Redis) -> None:
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get(URL)

    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == {"ok": False, "error": "ConnectionError"}
