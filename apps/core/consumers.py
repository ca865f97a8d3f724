"""The one websocket of every live page: `/ws/live/?topic=board&topic=health:strip&…`.

A page names the parts it shows (`apps.core.live.LivePart`, registered by the apps); the socket
is checked once when it connects (4400 bad request, 4403 not allowed, 4404 no such thing) and then
only receives: HTML with `hx-swap-oob` that htmx swaps in by id. A page may send "refresh" to
catch up (after its socket opened, or after it set a push aside while its own request was in
flight).

Inside one process (one event loop) every socket shares one subscription to the channel layer
(`Hub`), and the sockets that show the same part to the same audience share one `View`: a change is
rendered once per view in a worker thread, not once per socket, and handed to each socket without
waiting on any other, so a slow browser holds up nobody.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import weakref
import zoneinfo
from collections.abc import Awaitable, Callable, Hashable
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.utils import timezone

from apps.core.concurrency import in_worker_thread
from apps.core.live import (
    MESSAGE_TYPE,
    BadSubscription,
    Data,
    LivePart,
    Refused,
    listen_in_process,
    parse_subscription,
)

logger = logging.getLogger(__name__)

# Close codes in the private range.
BAD_REQUEST = 4400
NOT_ALLOWED = 4403
NOT_FOUND = 4404
TRY_AGAIN_LATER = 1013

MAX_SUBSCRIPTIONS = 16
# A page asks for a fresh render ("refresh") when its socket opens and after it set aside a push
# that arrived while its own request was in flight. At most one per interval and socket: a
# refresh asked sooner is served when the interval ends, and the ones asked meanwhile are folded
# into it (never dropped, since that render is taken after them).
REFRESH_INTERVAL_SECONDS = 0.5
# Membership of a group expires on some layers (a day on the in-memory layer); the hub renews it.
GROUP_RENEW_SECONDS = 3600.0


# (part, key, audience, time zone): what makes two sockets' renders the same.
ViewKey = tuple[str, str, Hashable, str]


class View:
    """The sockets of one process that show one part to one audience (in one time zone).

    A message with data is rendered at once (renders of successive messages may overlap); a
    message without data, or a page's refresh, asks for a fresh render from the database, and asks
    that arrive before that render starts share it. Either way each socket gets the renders in the
    order the messages arrived."""

    def __init__(
        self, name: ViewKey, part: LivePart, key: str, topic: str, user: Any, tz: zoneinfo.ZoneInfo | None
    ) -> None:
        self.name = name
        self.part = part
        self.key = key
        self.topic = topic
        self.user = user
        self.tz = tz
        self.sockets: set[LiveConsumer] = set()
        self._tail: asyncio.Task[None] | None = None
        # A fresh render asked for and not started yet.
        self._waiting: _Asked | None = None

    def changed(self, data: Data) -> None:
        if data:
            render = asyncio.ensure_future(self._render(data))
            self._chain(lambda previous: self._deliver(render, previous))
        else:
            self.fresh(None)

    def fresh(self, socket: LiveConsumer | None) -> None:
        """Render from the database once this is asked, for `socket`, or every socket when None."""
        if self._waiting is None:
            waiting = self._waiting = _Asked()
            self._chain(lambda previous: self._deliver_fresh(waiting, previous))
        if socket is None:
            self._waiting.everyone = True
        else:
            self._waiting.sockets.add(socket)

    def _chain(self, make: Callable[[asyncio.Task[None] | None], Awaitable[None]]) -> None:
        task = asyncio.ensure_future(make(self._tail))
        self._tail = task
        task.add_done_callback(self._settle)

    def _settle(self, task: asyncio.Task[None]) -> None:
        if self._tail is task:
            self._tail = None
        if not task.cancelled() and task.exception() is not None:
            logger.warning("live update of %s failed", self.topic, exc_info=task.exception())

    async def _deliver(self, render: Awaitable[str], previous: asyncio.Task[None] | None) -> None:
        html = await render
        await _after(previous)
        self._push(html, self.sockets)

    async def _deliver_fresh(self, waiting: _Asked, previous: asyncio.Task[None] | None) -> None:
        await _after(previous)
        if self._waiting is waiting:
            # From here on, an ask needs a render that starts after it: the next one.
            self._waiting = None
        html = await self._render(None)
        self._push(html, self.sockets if waiting.everyone else waiting.sockets & self.sockets)

    def _push(self, html: str, sockets: set[LiveConsumer]) -> None:
        if html:
            for socket in list(sockets):
                socket.push(html)

    async def _render(self, data: Data | None) -> str:
        try:
            return await in_worker_thread(self._render_now)(data)
        except Exception:
            logger.warning("rendering %s:%s failed", self.part.prefix, self.key, exc_info=True)
            return ""

    def _render_now(self, data: Data | None) -> str:
        with timezone.override(self.tz):
            return self.part.render(self.key, self.user, data)


class _Asked:
    """Who waits for the next fresh render of a view."""

    def __init__(self) -> None:
        self.everyone = False
        self.sockets: set[LiveConsumer] = set()


async def _after(previous: asyncio.Task[None] | None) -> None:
    """Wait until the previous delivery is over, however it ended."""
    if previous is not None:
        await asyncio.wait([previous])


class Hub:
    """This process's (event loop's) one channel of the layer: it joins the group of each topic
    some open page follows, and hands each message to the views that follow its topic."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        # Without Redis (the in-memory layer, one process) messages come straight from `publish`.
        self.in_process = isinstance(layer, InMemoryChannelLayer)
        self.channel = ""
        self.views: dict[ViewKey, View] = {}
        self.topics: dict[str, set[View]] = {}
        self.running = False
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()

    async def join(self, socket: LiveConsumer, part: LivePart, key: str, audience: Hashable, user: Any) -> View:
        """Add the socket to its view; once this returns, every message on the topic reaches it."""
        tz = user_timezone(user)
        name: ViewKey = (part.prefix, key, audience, str(tz or ""))
        topic = part.topic(key)
        async with self._lock:
            if not self.running:
                await self._start()
            if topic not in self.topics:
                if not self.in_process:
                    await self.layer.group_add(topic, self.channel)
                self.topics[topic] = set()
            view = self.views.get(name)
            if view is None:
                view = self.views[name] = View(name, part, key, topic, user, tz)
            self.topics[topic].add(view)
            view.sockets.add(socket)
        return view

    async def leave(self, socket: LiveConsumer, view: View) -> None:
        async with self._lock:
            view.sockets.discard(socket)
            if view.sockets:
                return
            if self.views.get(view.name) is view:
                del self.views[view.name]
            followers = self.topics.get(view.topic, set())
            followers.discard(view)
            if not followers and view.topic in self.topics:
                del self.topics[view.topic]
                if not self.in_process:
                    await self.layer.group_discard(view.topic, self.channel)
            if not self.topics and self.running:
                await self._stop()

    async def _start(self) -> None:
        if self.in_process:
            listen_in_process(asyncio.get_running_loop(), self.dispatch)
        else:
            self.channel = await self.layer.new_channel()
            self._tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._renew())]
        self.running = True

    async def _stop(self) -> None:
        self.running = False
        if self.in_process:
            listen_in_process(asyncio.get_running_loop(), None)
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") != MESSAGE_TYPE:
            return
        data = message.get("data")
        for view in list(self.topics.get(str(message.get("topic")), ())):
            view.changed(data if isinstance(data, dict) else {})

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("receiving live updates failed", exc_info=True)
                await asyncio.sleep(1)
                continue
            self.dispatch(message)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(GROUP_RENEW_SECONDS)
            for topic in list(self.topics):
                try:
                    await self.layer.group_add(topic, self.channel)
                except Exception:
                    logger.warning("renewing live group %s failed", topic, exc_info=True)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub | None:
    """The running event loop's hub; None when no channel layer is configured."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        layer = get_channel_layer()
        if layer is None:
            return None
        found = _hubs[loop] = Hub(layer)
    return found


def user_timezone(user: Any) -> zoneinfo.ZoneInfo | None:
    """The time zone the user's pages show times in (None: the site's default), as the
    middleware activates it for their requests."""
    name = getattr(user, "timezone", "") or ""
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _admit(user: Any, parts: list[tuple[LivePart, str]]) -> list[Hashable]:
    """Each part's audience for this user; `Refused` (with its close code) when one is not allowed."""
    for part, key in parts:
        if not part.allowed(user, key):
            raise Refused(key)
    return [part.audience(user) for part, _ in parts]


class LiveConsumer(AsyncWebsocketConsumer):
    # An alias with no layer behind it, so Channels gives the socket no channel of its own:
    # updates come through the process's hub.
    channel_layer_alias = "live.none"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.views: list[View] = []
        self.accepted = False
        self.last_refresh = 0.0
        self.pending_refresh: asyncio.Task[None] | None = None
        self._outbox: collections.deque[str] = collections.deque()
        self._sending: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not getattr(user, "is_authenticated", False):
            await self.close(code=NOT_ALLOWED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        asked = list(dict.fromkeys(query.get("topic") or []))
        try:
            if not asked or len(asked) > MAX_SUBSCRIPTIONS:
                raise BadSubscription("topics")
            parsed = [parse_subscription(text) for text in asked]
            audiences = await in_worker_thread(_admit)(user, [(part, key) for part, key, _ in parsed])
        except Refused as refused:
            await self.close(code=refused.code)
            return
        shared = hub()
        if shared is not None:
            # Joined before the accept, so nothing sent once the page is connected is missed; a
            # push in between is dropped (the page was rendered a moment ago and asks to catch up).
            try:
                for (part, key, _), audience in zip(parsed, audiences, strict=True):
                    self.views.append(await shared.join(self, part, key, audience, user))
            except Exception:
                # The layer is unreachable (Redis down): refuse, and the page says it is not live
                # and tries again later.
                logger.warning("a live page could not subscribe", exc_info=True)
                await self._leave_all()
                await self.close(code=TRY_AGAIN_LATER)
                return
        await self.accept()
        self.accepted = True

    async def disconnect(self, code: int) -> None:
        self.accepted = False
        if self.pending_refresh is not None:
            self.pending_refresh.cancel()
        await self._leave_all()

    async def _leave_all(self) -> None:
        shared = hub()
        views, self.views = self.views, []
        if shared is not None:
            for view in views:
                await shared.leave(self, view)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The only message a page may send is "refresh"; anything else is ignored, not trusted.
        if text_data != "refresh" or self.pending_refresh is not None:
            return
        wait = self.last_refresh + REFRESH_INTERVAL_SECONDS - time.monotonic()
        if wait <= 0:
            self._refresh_now()
        else:
            self.pending_refresh = asyncio.create_task(self._refresh_later(wait))

    async def _refresh_later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self.pending_refresh = None
        self._refresh_now()

    def _refresh_now(self) -> None:
        self.last_refresh = time.monotonic()
        for view in self.views:
            view.fresh(self)

    def push(self, html: str) -> None:
        """Send without waiting: a socket whose earlier send is still blocked (a browser that
        stopped reading) queues its messages, in order, and delays no other socket."""
        if not self.accepted:
            return
        if self._sending is not None:
            self._outbox.append(html)
            return
        # Started eagerly: a send that does not block (the usual case) is over on return, with
        # no task scheduled on the loop.
        task = asyncio.eager_task_factory(asyncio.get_running_loop(), self._send_all(html))
        if not task.done():
            self._sending = task

    async def _send_all(self, html: str) -> None:
        try:
            await self.send(text_data=html)
            while self._outbox:
                await self.send(text_data=self._outbox.popleft())
        except Exception:
            # The page went away while the message was on its way; its disconnect follows.
            self._outbox.clear()
            logger.debug("live update not delivered", exc_info=True)
        finally:
            self._sending = None
