"""The one path for live updates: after a change commits, `publish(topic)` sends one small typed
"this changed" message; `apps.core.consumers.LiveConsumer` hands it to the open pages that show
that topic, each part rendered by the app that owns it.

- A *topic* names what changed ("incident.5", "board", "run.12", "runs", "health"); each app
  names its own through small helpers (`apps.incidents.live.incident_topic`).
- A *live part* is a piece of a page that follows a topic. Apps register theirs from
  `AppConfig.ready()` with `register_part`; a page asks for parts by subscription,
  `<prefix>` or `<prefix>.<key>` or `<prefix>:<key>` ("incident.5", "health:widgets:web-1").

The database is the record: a message lost while Redis is down costs a page its push, never the
truth (pages catch up on reload, and by themselves when their socket reconnects).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "live.changed"
PUBSUB_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"

Data = dict[str, Any]


# --- publishing ----------------------------------------------------------------------------------
def publish(topic: str, data: Data | None = None) -> None:
    """Once the current transaction commits (at once outside one), tell the pages that follow
    `topic` that it changed. `data` travels with the message: keep it small, ids and values, or
    HTML rendered once for everyone (health widgets, log lines). Never raises: a message Redis
    could not take is logged."""
    if not data and _pending_without_data(topic):
        # "It changed" is already on its way once this transaction commits: pages re-read the
        # database, so a second one would only render the same thing again.
        return
    message = {"type": MESSAGE_TYPE, "topic": topic, "id": uuid.uuid4().hex, "data": data or {}}
    transaction.on_commit(functools.partial(_send, message), robust=True)


def _pending_without_data(topic: str) -> bool:
    """Whether this transaction already holds a data-less message for `topic`. Django drops a
    rolled-back savepoint's callbacks, and any savepoint still open is one this call is inside, so
    a message found here is sent whenever this call's own would have been."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return False
    return any(
        isinstance(callback, functools.partial)
        and callback.func is _send
        and callback.args[0]["topic"] == topic
        and not callback.args[0]["data"]
        for _, callback, _ in connection.run_on_commit
    )


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


# Without Redis the in-memory layer serves one process, and it cannot be sent to from another
# thread's event loop (where jobs and requests publish from): messages go straight to the hubs of
# this process's event loops instead (`apps.core.consumers.Hub`), each on its own loop.
_in_process: dict[asyncio.AbstractEventLoop, Callable[[Data], None]] = {}


def listen_in_process(loop: asyncio.AbstractEventLoop, dispatch: Callable[[Data], None] | None) -> None:
    """Have `dispatch` called on `loop` with each message published in this process (None: stop)."""
    if dispatch is None:
        _in_process.pop(loop, None)
    else:
        _in_process[loop] = dispatch


def _send(message: Data) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    topic = str(message["topic"])
    if isinstance(layer, InMemoryChannelLayer):
        for loop, dispatch in list(_in_process.items()):
            if loop.is_closed():
                _in_process.pop(loop, None)
            else:
                loop.call_soon_threadsafe(dispatch, message)
        return
    try:
        pubsub = _pubsub_config()
        if pubsub is not None:
            # One PUBLISH through a pooled client: no event loop and no new connection per call.
            url, prefix = pubsub
            _redis(url).publish(pubsub_group_channel(prefix, topic), layer.serialize(message))
        else:
            async_to_sync(layer.group_send)(topic, message)
    except Exception:
        logger.warning("live update of %s not sent", topic, exc_info=True)


# --- the parts pages follow --------------------------------------------------------------------
class Refused(Exception):
    """A subscription a page may not have; `code` is the websocket close code it gets."""

    code = 4403


class BadSubscription(Refused):
    """Malformed, or names no part: 4400."""

    code = 4400


class UnknownObject(Refused):
    """Well formed, but what it names does not exist: 4404."""

    code = 4404


def everyone(user: Any) -> Hashable:
    """The audience of a part that looks the same to every signed-in user."""
    return None


def per_person(user: Any) -> Hashable:
    """The audience of a part whose render follows who the user is, not only their role."""
    return int(user.pk)


Render = Callable[[str, Any, Data | None], str]


@dataclass(frozen=True)
class LivePart:
    """A piece of a page that follows a topic.

    - `topic(key)`: the topic it follows; raise `BadSubscription` for a malformed key.
    - `allowed(user, key)`: may this user follow it; raise `UnknownObject` when the key names
      nothing. Runs in a worker thread, once, when the page connects.
    - `render(key, user, data)`: the HTML to send (elements with `hx-swap-oob`), or "" for
      nothing; `data` is the message's, or None when the page asks to catch up. Runs in a worker
      thread, once per message and audience in each process, for every socket of that audience.
    - `audience(user)`: users with equal audiences get the same render (a role, or `everyone`).
      Renders are also per time zone, which the consumer adds by itself.
    """

    prefix: str
    topic: Callable[[str], str]
    allowed: Callable[[Any, str], bool]
    render: Render
    audience: Callable[[Any], Hashable] = everyone


_parts: dict[str, LivePart] = {}
SUBSCRIPTION = re.compile(r"(?P<prefix>[a-z][a-z0-9_-]{0,30})(?:[.:](?P<key>[^\s]{1,200}))?")


def register_part(part: LivePart) -> None:
    existing = _parts.get(part.prefix)
    if existing is not None and existing.render.__module__ != part.render.__module__:
        raise ValueError(f"{existing.render.__module__} already registered the live part {part.prefix!r}")
    _parts[part.prefix] = part


def parse_subscription(text: str) -> tuple[LivePart, str, str]:
    """(part, key, topic) of a subscription such as "incident.5"; `BadSubscription` otherwise."""
    match = SUBSCRIPTION.fullmatch(text)
    part = _parts.get(match["prefix"]) if match else None
    if match is None or part is None:
        raise BadSubscription(text)
    key = match["key"] or ""
    return part, key, part.topic(key)


def id_topic(prefix: str) -> Callable[[str], str]:
    """The `topic` of a part about one row: key "12" follows "<prefix>.12"."""

    def topic(key: str) -> str:
        if not key.isascii() or not key.isdigit() or len(key) > 18:
            raise BadSubscription(key)
        return f"{prefix}.{int(key)}"

    return topic


def fixed_topic(name: str) -> Callable[[str], str]:
    """The `topic` of a part with no key (the board): only the bare prefix is accepted."""

    def topic(key: str) -> str:
        if key:
            raise BadSubscription(key)
        return name

    return topic
