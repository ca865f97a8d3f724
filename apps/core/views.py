"""Operations endpoints for load balancers and orchestrators (no sign-in, no secrets)."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


def _check_database() -> dict[str, object]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


CHANNEL_LAYER_TIMEOUT_SECONDS = 2


async def _round_trip(layer: Any) -> dict[str, Any]:
    # One event loop for the whole trip: a pub/sub layer subscribes per loop.
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "readyz.ping"})
    message: dict[str, Any] = await asyncio.wait_for(layer.receive(channel), CHANNEL_LAYER_TIMEOUT_SECONDS)
    return message


def _check_channel_layer() -> dict[str, object]:
    layer = get_channel_layer()
    if layer is None:
        return {"ok": False, "error": "no channel layer configured"}
    try:
        message = async_to_sync(_round_trip)(layer)
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": message.get("type") == "readyz.ping", "backend": type(layer).__name__}


def _check_workers() -> dict[str, object]:
    from apps.core.heartbeat import live_workers, redis_client

    try:
        workers = live_workers(redis_client())
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    if not workers:
        return {"ok": False, "error": "no worker heartbeat", "workers": []}
    return {"ok": True, "workers": workers}


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: database, channel layer and (with Redis) at least one live worker."""
    checks = {"database": _check_database(), "channel_layer": _check_channel_layer()}
    if settings.REDIS_URL:
        checks["worker"] = _check_workers()
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
