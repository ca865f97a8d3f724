"""The Atom feed of public updates and maintenance announcements, newest first (public rows only,
in two queries)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape

from apps.comms.models import MaintenanceWindow, Update, UpdateComponent
from apps.core.markdown import render_markdown

ENTRIES = 50


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def atom() -> bytes:
    updates = list(
        Update.objects.filter(audience=Update.Audience.PUBLIC)
        .select_related("public_incident")
        .order_by("-created_at", "-pk")[:ENTRIES]
    )
    affected: dict[int, list[str]] = {}
    rows = (
        UpdateComponent.objects.filter(update__in=updates)
        .order_by("component__position", "component__name")
        .values_list("update_id", "component__name", "new_state")
    )
    for update_id, name, state in rows:
        affected.setdefault(update_id, []).append(f"{name}: {state.replace('_', ' ')}")
    windows = list(MaintenanceWindow.objects.filter(cancelled_at__isnull=True).order_by("-created_at", "-pk")[:ENTRIES])
    status_url = _absolute(reverse("comms:status"))
    feed = Atom1Feed(
        title=f"{settings.STATUS_PAGE_NAME}: status updates",
        link=status_url,
        description="Incidents and scheduled maintenance",
        feed_url=_absolute(reverse("comms:feed")),
        feed_guid=status_url,
        language="en",
    )
    entries: list[tuple[datetime, dict[str, object]]] = []
    for update in updates:
        assert update.public_incident is not None
        html = str(render_markdown(update.body))
        if affected.get(update.pk):
            html += "<p>" + escape("; ".join(affected[update.pk])) + "</p>"
        entries.append(
            (
                update.created_at,
                {
                    "title": f"{update.title}: {update.get_status_display()}",
                    "link": _absolute(reverse("comms:public_incident", args=[update.public_incident.code])),
                    "description": html,
                    "unique_id": f"{status_url}#update-{update.code}",
                    "pubdate": update.created_at,
                    "updateddate": update.created_at,
                },
            )
        )
    for window in windows:
        when = f"{window.starts_at:%Y-%m-%d %H:%M} to {window.ends_at:%Y-%m-%d %H:%M} UTC"
        entries.append(
            (
                window.created_at,
                {
                    "title": f"Scheduled maintenance: {window.title}",
                    "link": f"{status_url}#maintenance-{window.code}",
                    "description": f"<p>{escape(when)}</p>" + str(render_markdown(window.body)),
                    "unique_id": f"{status_url}#maintenance-{window.code}",
                    "pubdate": window.created_at,
                    "updateddate": window.updated_at,
                },
            )
        )
    entries.sort(key=lambda entry: entry[0], reverse=True)
    for _moment, item in entries[:ENTRIES]:
        feed.add_item(**item)  # type: ignore[arg-type]
    return feed.writeString("utf-8").encode("utf-8")
