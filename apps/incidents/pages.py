"""What the board and an incident page show, assembled once for both the HTTP views and the
websocket consumers, so a live update and a reload render the same thing."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.permissions import capabilities_for
from apps.contacts.models import Contact
from apps.incidents import lifecycle, selectors
from apps.incidents.extensions import board_sections_for, panels_for
from apps.incidents.forms import ChecklistStateForm, IncidentDetailsForm, NoteForm, NotificationForm
from apps.incidents.models import ChecklistItem, Incident
from apps.runbooks.models import Runbook


def board_context(user: Any) -> dict[str, Any]:
    return {"board": selectors.board(), "can": capabilities_for(user), "user": user}


def board_page_context(user: Any) -> dict[str, Any]:
    """The whole board page: the live incident board and the other apps' sections above it."""
    return {**board_context(user), "sections": board_sections_for(user)}


def incident_context(incident_id: int, user: Any) -> dict[str, Any]:
    incident = selectors.incident_for_page(incident_id)
    items = selectors.checklist(incident)
    labels = {**dict(Runbook.Kind.choices), Runbook.Kind.SCENARIO: incident.get_scenario_display()}
    phases = [
        (labels[kind], [item for item in items if item.phase == kind])
        for kind in Runbook.Kind.values
        if any(item.phase == kind for item in items)
    ]
    return {
        "incident": incident,
        "overdue": selectors.overdue_reasons(incident),
        "transitions": [Incident.Status(s) for s in lifecycle.allowed_transitions(incident.status)],
        "phases": phases,
        "checklist_states": ChecklistItem.State,
        "notifications": selectors.notifications(incident),
        "timeline": selectors.timeline(incident),
        "first_contacts": _first_contacts(incident),
        "panels": panels_for(incident, user),
        "can": capabilities_for(user),
        "user": user,
        "now": timezone.now(),
    }


def incident_forms(incident: Incident, **bound: Any) -> dict[str, Any]:
    """The forms of an incident page; pass bound ones (with errors) to show them instead."""
    return {
        "details_form": bound.get("details_form") or IncidentDetailsForm.for_incident(incident),
        "seen_form": IncidentDetailsForm.for_incident(incident, prefix="seen"),
        "notification_form": bound.get("notification_form") or NotificationForm(),
        "note_form": bound.get("note_form") or NoteForm(),
        "skip_form": ChecklistStateForm(),
    }


def _first_contacts(incident: Incident) -> list[Contact]:
    runbook = Runbook.objects.filter(scenario=incident.scenario).select_related("first_contact_role").first()
    if runbook is None or runbook.first_contact_role is None:
        return []
    return list(Contact.objects.filter(role=runbook.first_contact_role).select_related("role"))


def render_board_live(user: User) -> str:
    return render_to_string("incidents/board.html#board-live", board_context(user))


def render_incident_live(incident_id: int, user: User) -> str:
    return render_to_string("incidents/incident_detail.html#live", incident_context(incident_id, user))
