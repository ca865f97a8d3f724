"""The paging panel's buttons on the incident page: acknowledge, escalate now, re-page, start.

Like the incident views: an htmx request gets the page's live pieces back, a plain form post is
redirected to the incident page, where the message says what happened.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.permissions import can_work_incidents, require
from apps.core.http import AppRequest
from apps.incidents import pages
from apps.incidents.models import Incident
from apps.paging.forms import SeenStepForm
from apps.paging.models import Escalation
from apps.paging.services.errors import PagingError
from apps.paging.services.escalation import escalation_start
from apps.paging.services.responses import escalation_acknowledge, escalation_escalate_now, escalation_repage


def _incident(request: AppRequest, pk: int) -> Incident:
    require(can_work_incidents, request.user)
    return get_object_or_404(Incident, pk=pk)


def _respond(request: AppRequest, incident: Incident, status: int = 200) -> HttpResponseBase:
    if request.htmx:
        context = pages.incident_context(incident.pk, request.user)
        context.update(pages.incident_forms(context["incident"]))
        return render(request, "incidents/incident_detail.html#htmx-response", context, status=status)
    return redirect("incidents:detail", pk=incident.pk)


def _seen_step(request: AppRequest) -> tuple[bool, int | None]:
    form = SeenStepForm(request.POST)
    if not form.is_valid():
        return False, None
    seen: int | None = form.cleaned_data["seen_step"]
    return True, seen


@require_POST
@login_required
def acknowledge(request: AppRequest, pk: int) -> HttpResponseBase:
    incident = _incident(request, pk)
    try:
        escalation_acknowledge(incident_id=incident.pk, user=request.user, via="on the incident page")
    except PagingError as exc:
        messages.error(request, str(exc))
        return _respond(request, incident, status=409)
    messages.success(request, "Acknowledged: the escalation has stopped.")
    return _respond(request, incident)


def _move_escalation(
    request: AppRequest, pk: int, move: Callable[..., object], what: str, done: str
) -> HttpResponseBase:
    """Escalate now or re-page: acts on the step the user saw, so a double click or a stale page
    gets a clear 409 rather than a second page."""
    incident = _incident(request, pk)
    valid, seen = _seen_step(request)
    if not valid:
        messages.error(request, f"That {what} was not understood; reload the page and try again.")
        return _respond(request, incident, status=400)
    try:
        move(incident_id=incident.pk, user=request.user, seen_step_id=seen)
    except PagingError as exc:
        messages.error(request, str(exc))
        return _respond(request, incident, status=409)
    messages.success(request, done)
    return _respond(request, incident)


@require_POST
@login_required
def escalate(request: AppRequest, pk: int) -> HttpResponseBase:
    return _move_escalation(
        request, pk, escalation_escalate_now, "escalation", "Escalated: the next level is being paged."
    )


@require_POST
@login_required
def repage(request: AppRequest, pk: int) -> HttpResponseBase:
    return _move_escalation(request, pk, escalation_repage, "re-page", "Re-paging the current level.")


@require_POST
@login_required
def start(request: AppRequest, pk: int) -> HttpResponseBase:
    """Start paging an incident that has none (declared with automatic paging off)."""
    incident = _incident(request, pk)
    if Escalation.objects.filter(incident=incident).exists():
        messages.error(request, f"{incident.reference} is already being paged.")
        return _respond(request, incident, status=409)
    try:
        escalation_start(incident_id=incident.pk, user=request.user)
    except PagingError as exc:
        messages.error(request, str(exc))
        return _respond(request, incident, status=409)
    messages.success(request, "Paging started.")
    return _respond(request, incident)
