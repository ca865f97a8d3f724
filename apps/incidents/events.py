"""The incident's record as typed events: how they are written, and how their words are rendered.

Writing: `event_record(incident_id=…, kind=EventKind.RUN_APPROVED, actor=user, run=run, data={…})`
inside the transaction of the change it records (it opens one if there is none); open pages of
the incident and the board are told after commit.

Reading: each app renders the kinds it records. It registers, in its `AppConfig.ready()`, a
function per kind (`@renders(EventKind.RUN_APPROVED)`) that turns an event into words from its
`data` and references, and a link per reference it owns (`register_link("run", …)`), so the
timeline, exports and reviews all show the same words without storing sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.db.models import Choices, QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.incidents.live import announce_incident_changed
from apps.incidents.models import Component, EventKind, TimelineEvent

Renderer = Callable[[TimelineEvent], str]
Linker = Callable[[TimelineEvent], tuple[str, str] | None]

_renderers: dict[str, Renderer] = {}
_linkers: dict[str, Linker] = {}
# The relations renderers read, loaded with the events in one query (`with_related`).
_related: set[str] = {"actor"}


def event_record(
    *,
    incident_id: int,
    kind: EventKind,
    actor: User | None = None,
    component: Component | str = "",
    data: dict[str, Any] | None = None,
    body: str = "",
    **refs: Any,
) -> TimelineEvent:
    """Write one event. `actor` is the person who acted; without one, `component` names the part
    of Incident Center that did (the generic "Incident Center" when neither is given). `refs` are
    the rows involved, by the names in `TimelineEvent.REFS` (a model instance or its id)."""
    unknown = set(refs) - set(TimelineEvent.REFS)
    if unknown:
        raise TypeError(f"unknown event references: {', '.join(sorted(unknown))}")
    if kind not in EventKind.values or kind == EventKind.LEGACY:
        raise ValueError(f"{kind!r} is not an event kind that can be recorded")
    ids = {f"{name}_id": getattr(value, "pk", value) for name, value in refs.items() if value is not None}
    with transaction.atomic():
        event = TimelineEvent.objects.create(
            incident_id=incident_id,
            kind=kind,
            at=timezone.now(),
            actor=actor,
            component="" if actor is not None else (component or Component.SYSTEM),
            data=data or {},
            body=body,
            **ids,
        )
    announce_incident_changed(incident_id)
    return event


def renders(*kinds: EventKind, related: Iterable[str] = ()) -> Callable[[Renderer], Renderer]:
    """Register the function that words these kinds (in the app that records them). `related`
    names the relations it reads (e.g. "run__host"), loaded with the events, never one by one."""
    _related.update(related)

    def register(function: Renderer) -> Renderer:
        for kind in kinds:
            _renderers[kind] = function
        return function

    return register


def register_link(ref: str, linker: Linker) -> None:
    """How an event's reference `ref` links to its page: (label, url), or None for no link."""
    if ref not in TimelineEvent.REFS:
        raise ValueError(f"{ref!r} is not an event reference")
    _linkers[ref] = linker


def with_related(events: QuerySet[TimelineEvent]) -> QuerySet[TimelineEvent]:
    """Events with every relation their renderers read, in the same query."""
    return events.select_related(*sorted(_related))


def label_of(choices: type[Choices], value: str) -> str:
    """A stored value's label in `choices`, for renderers; the value itself when it is no longer
    among them (an event outlives the choices of its day)."""
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def render(event: TimelineEvent) -> str:
    if event.kind == EventKind.LEGACY:
        return event.legacy_text
    renderer = _renderers.get(event.kind)
    if renderer is None:
        return event.get_kind_display()
    return renderer(event)


def links(event: TimelineEvent) -> list[tuple[str, str]]:
    found = []
    for ref, linker in _linkers.items():
        if getattr(event, f"{ref}_id") is not None and (link := linker(event)) is not None:
            found.append(link)
    return found


def refs_of(event: TimelineEvent) -> dict[str, int]:
    return {ref: ref_id for ref in TimelineEvent.REFS if (ref_id := getattr(event, f"{ref}_id")) is not None}


def kinds_without_renderer() -> list[str]:
    """Kinds no app words (a test keeps this empty)."""
    return [kind for kind in EventKind.values if kind != EventKind.LEGACY and kind not in _renderers]


def as_dict(event: TimelineEvent) -> dict[str, Any]:
    """An event as the timeline export and the API give it."""
    actor: dict[str, Any] = (
        {"type": "user", "name": event.actor_name, "id": event.actor_id}
        if event.actor_id is not None
        else {"type": "system", "name": event.actor_name, "id": event.component or Component.SYSTEM}
    )
    return {
        "id": event.pk,
        "at": event.at.isoformat(),
        "kind": event.kind,
        "actor": actor,
        "refs": refs_of(event),
        "data": event.data,
        "text": render(event),
        **({"body": event.body} if event.body else {}),
    }
