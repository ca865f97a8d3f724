"""Fixtures and helpers for the incident tests: a declared incident, contacts on the escalation
path, and a snapshot of everything an incident request could write (timeline events included)."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.contacts.models import Contact, ContactRole
from apps.incidents.models import ChecklistItem, Incident, NotificationEntry, TimelineEvent
from apps.runbooks.models import Runbook
from tests.factories import ContactFactory, declare_incident

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """The named users are made with a password; real PBKDF2 costs a second each on CI."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def incident(procedures: list[Runbook], responder: User) -> Incident:
    return declare_incident(responder, title="Primary database down")


@pytest.fixture
def other_incident(procedures: list[Runbook], second_responder: User) -> Incident:
    return declare_incident(second_responder, title="Website shows the wrong logo", scenario="website_defacement")


@pytest.fixture
def project_manager_contact(procedures: list[Runbook]) -> Contact:
    """On the escalation path with a 30-minute acknowledgement timeout (the default is 15)."""
    return ContactFactory(role=ContactRole.objects.get(name="Project Manager"), name="Pat Planner")


@pytest.fixture
def off_path_contact(procedures: list[Runbook]) -> Contact:
    """A contact whose role is on no escalation level."""
    return ContactFactory(role=ContactRole.objects.create(name="Facilities"), name="Fran Facilities")


@pytest.fixture
def anonymous_client() -> Client:
    return Client()


@dataclass(frozen=True)
class Snapshot:
    """Everything an incident request may write, to compare before and after."""

    incidents: list[tuple[Any, ...]]
    checklist: list[tuple[Any, ...]]
    notifications: list[tuple[Any, ...]]
    events: list[int]


def snapshot() -> Snapshot:
    return Snapshot(
        incidents=list(Incident.objects.order_by("pk").values_list()),
        checklist=list(ChecklistItem.objects.order_by("pk").values_list()),
        notifications=list(NotificationEntry.objects.order_by("pk").values_list()),
        events=list(TimelineEvent.objects.order_by("pk").values_list("pk", flat=True)),
    )


def new_events(incident: Incident, before: list[int]) -> list[TimelineEvent]:
    """The incident's events written since `before` (from `event_ids`), oldest first."""
    return list(incident.events.exclude(pk__in=before).order_by("pk"))


def event_ids(incident: Incident) -> list[int]:
    return list(incident.events.values_list("pk", flat=True))


def details_post(incident: Incident, **changes: Any) -> dict[str, Any]:
    """The details form as the incident page posts it: every field, and the value it showed."""
    incident.refresh_from_db()
    shown = {
        "title": incident.title,
        "severity": incident.severity,
        "noticed_at": incident.noticed_at.strftime("%Y-%m-%dT%H:%M"),
        "affected_components": incident.affected_components,
        "impact": incident.impact,
        "commander": incident.commander_id or "",
        "coordinator": incident.coordinator_id or "",
        "channel_url": incident.channel_url,
    }
    data = {**shown, **changes}
    data.update({f"seen-{name}": value for name, value in shown.items()})
    return data


class _FormReader(HTMLParser):
    """The fields of one form of a page, as a browser would submit them untouched."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.inside = False
        self.fields: dict[str, str] = {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in {"submit", "radio", "checkbox"}:
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") in {"radio", "checkbox"} and "checked" in a:
            self.fields[a["name"]] = a.get("value", "on")
        elif tag == "select":
            self.select = a["name"]
            self.fields.setdefault(self.select, "")
        elif tag == "option" and self.select and "selected" in a:
            self.fields[self.select] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a["name"]
            self.fields[self.textarea] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.inside and self.textarea:
            # The HTML spec drops one newline right after <textarea>.
            text = data[1:] if data.startswith("\n") and not self.fields[self.textarea] else data
            self.fields[self.textarea] += text


def form_on_page(html: str, action: str) -> dict[str, str]:
    reader = _FormReader(action)
    reader.feed(html)
    assert reader.fields, f"no form posting to {action} on the page"
    reader.fields.pop("csrfmiddlewaretoken", None)
    return reader.fields
