"""Push a message to channel groups, where open pages listen. The database is the record: if
Redis is down the message is logged as lost and pages catch up on reload or reconnection.

Two halves:
- `broadcast`, for sync code (services, workers): one Redis PUBLISH per group on the pub/sub
  layer, through a pooled client, instead of an event loop and a fresh Redis connection per call.
- `local_join` / `local_leave`, for consumers of a group that many pages watch: each process
  keeps one channel-layer subscription to the group and hands every message to its own pages in
  one pass, instead of one channel, one task wake-up and one thread hop per page and message.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings

logger = logging.getLogger(__name__)

PUBSUB_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"


@functools.cache
def _redis(url: str) -> redis.Redis:
    # One pooled client per process, like the layer's own connection.
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def _pubsub_config() -> tuple[str, str] | None:
    """(Redis URL, prefix) when the default layer is the Redis pub/sub layer on one host."""
    config: dict[str, Any] = settings.CHANNEL_LAYERS.get("default", {})
    options: dict[str, Any] = config.get("CONFIG", {})
    hosts = options.get("hosts") or []
    if config.get("BACKEND") != PUBSUB_LAYER or len(hosts) != 1:
        return None
    host = hosts[0]
    address = host.get("address") if isinstance(host, dict) else host
    if not isinstance(address, str):
        return None
    return address, str(options.get("prefix", "asgi"))


def pubsub_group_channel(prefix: str, group: str) -> str:
    # The Redis channel RedisPubSubChannelLayer uses for a group (channels_redis 4); a test
    # checks that a consumer joined through the layer receives what is published here.
    return f"{prefix}__group__{group}"


def broadcast(groups: list[str], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    pubsub = _pubsub_config()
    try:
        if pubsub is not None:
            url, prefix = pubsub
            payload = layer.serialize(message)
            client = _redis(url)
            for group in groups:
                client.publish(pubsub_group_channel(prefix, group), payload)
            return

        async def send_all() -> None:
            # One event loop for every group: each async_to_sync costs one.
            for group in groups:
                await layer.group_send(group, message)

        async_to_sync(send_all)()
    except Exception:
        logger.warning("live update %s to %s not sent", message.get("type"), ", ".join(groups), exc_info=True)


# --- one subscription per process, shared by that process's pages ---------------------------

Listener = Callable[[dict[str, Any]], Awaitable[None]]
# Membership of a group expires on some layers (a day on channels_redis' list layer, the
# in-memory layer); the shared subscription renews it well before.
GROUP_RENEW_SECONDS = 3600.0


class LocalGroup:
    """The listeners of one group in one process and event loop, fed by one channel of the
    layer. A listener is awaited in turn for each message; it must not wait on the network (an
    ASGI `send` only buffers), so one page never holds up the others for long."""

    def __init__(self, group: str, layer: BaseChannelLayer) -> None:
        self.group = group
        self.layer = layer
        self.listeners: dict[object, Listener] = {}
        self.channel = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def join(self, key: object, listener: Listener) -> None:
        """Add a listener; once this returns, every message sent to the group reaches it."""
        async with self._lock:
            self.listeners[key] = listener
            if not self._tasks:
                self.channel = await self.layer.new_channel()
                await self.layer.group_add(self.group, self.channel)
                self._tasks = [asyncio.create_task(self._deliver()), asyncio.create_task(self._renew())]

    async def leave(self, key: object) -> None:
        async with self._lock:
            if self.listeners.pop(key, None) is None or self.listeners or not self._tasks:
                return
            tasks, self._tasks = self._tasks, []
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.layer.group_discard(self.group, self.channel)

    async def _deliver(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("receiving from group %s failed", self.group, exc_info=True)
                await asyncio.sleep(1)
                continue
            for key, listener in list(self.listeners.items()):
                try:
                    await listener(message)
                except OSError:
                    # The page went away while the message was on its way; its disconnect follows.
                    logger.debug("live update to %r not delivered", key, exc_info=True)
                except Exception:
                    logger.warning("live update to %r failed", key, exc_info=True)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(GROUP_RENEW_SECONDS)
            try:
                await self.layer.group_add(self.group, self.channel)
            except Exception:
                logger.warning("renewing group %s failed", self.group, exc_info=True)


_local_groups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, LocalGroup]] = weakref.WeakKeyDictionary()


def local_group(group: str) -> LocalGroup | None:
    """This process's (and event loop's) shared subscription to a group; None without a layer."""
    loop = asyncio.get_running_loop()
    groups = _local_groups.setdefault(loop, {})
    found = groups.get(group)
    if found is None:
        layer = get_channel_layer()
        if layer is None:
            return None
        found = groups[group] = LocalGroup(group, layer)
    return found


async def local_join(group: str, key: object, listener: Listener) -> None:
    """Have `listener` called with each message sent to `group`, through the shared subscription."""
    shared = local_group(group)
    if shared is not None:
        await shared.join(key, listener)


async def local_leave(group: str, key: object) -> None:
    shared = local_group(group)
    if shared is not None:
        await shared.leave(key)
