"""The words of the events comms records, rendered when read (times in the reader's zone)."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from apps.comms.models import Update
from apps.incidents.events import label_of, register_link, renders
from apps.incidents.models import EventKind, TimelineEvent


@renders(EventKind.UPDATE_POSTED)
def update_posted(event: TimelineEvent) -> str:
    d = event.data
    public = d.get("audience") == Update.Audience.PUBLIC
    words = f"{'Public' if public else 'Internal'} update posted: {label_of(Update.Status, d['status'])}"
    if public and d.get("title"):
        words += f" — “{d['title']}”"
    if d.get("correction"):
        words += " (a correction)"
    return words


@renders(EventKind.UPDATE_OVERDUE)
def update_overdue(event: TimelineEvent) -> str:
    due = timezone.localtime(datetime.fromisoformat(event.data["due_at"]))
    reminded = event.data.get("reminded")
    if not reminded:
        who = "nobody to remind: choose a communication coordinator"
    elif reminded.get("role") == "coordinator":
        who = f"coordinator {reminded['name']} reminded"
    else:
        who = f"no coordinator: commander {reminded['name']} reminded"
    return f"Stakeholder update overdue (due {due:%H:%M %Z}); {who}"


def _update_link(event: TimelineEvent) -> tuple[str, str]:
    # Updates show in the incident page's communications panel, each under its own anchor.
    return "update", reverse("incidents:detail", args=[event.incident_id]) + f"#update-{event.update_id}"


register_link("update", _update_link)
