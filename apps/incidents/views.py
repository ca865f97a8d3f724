"""Incident views: thin. Each reads its input, calls a service, and renders.

An htmx request gets back the page's live pieces (swapped out of band); a plain form post is
redirected to the incident page, so everything works without JavaScript too.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.permissions import can_view, can_work_incidents, require
from apps.core.http import AppRequest
from apps.incidents import export, pages, selectors, services
from apps.incidents.forms import (
    ChecklistStateForm,
    IncidentDeclareForm,
    NoteForm,
    NotificationForm,
    StatusForm,
    details_changes,
)
from apps.incidents.models import SEVERITY_MEANINGS, ChecklistItem, Incident, NotificationEntry, Severity
from apps.runbooks.models import SCENARIO_DESCRIPTIONS, Scenario

ERRORS = (services.IncidentConflict, services.IncidentRuleError)


@require_GET
@login_required
def board(request: AppRequest) -> HttpResponse:
    require(can_view, request.user)
    if request.htmx:
        return render(request, "incidents/board.html#board-live", pages.board_context(request.user))
    return render(request, "incidents/board.html", pages.board_page_context(request.user))


@require_GET
@login_required
def incident_list(request: AppRequest) -> HttpResponse:
    require(can_view, request.user)
    status = request.GET.get("status", "")
    scenario = request.GET.get("scenario", "")
    status = status if status in Incident.Status.values else ""
    scenario = scenario if scenario in Scenario.values else ""
    page = Paginator(selectors.incident_history(status=status, scenario=scenario), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "incidents/incident_list.html",
        {
            "page": page,
            "status": status,
            "scenario": scenario,
            "statuses": Incident.Status.choices,
            "scenarios": Scenario.choices,
        },
    )


@login_required
def incident_declare(request: AppRequest) -> HttpResponse:
    require(can_work_incidents, request.user)
    # Bound on every POST: an empty body is a form with errors, not an untouched form.
    data = request.POST if request.method == "POST" else None
    # A health signal's "Declare incident" pre-fills the scenario and a title.
    prefill = {"scenario": request.GET.get("scenario", ""), "title": request.GET.get("title", "")[:200]}
    form = IncidentDeclareForm(data, initial=prefill)
    if request.method == "POST" and form.is_valid():
        incident = services.incident_declare(declared_by=request.user, **form.cleaned_data)
        messages.success(request, f"{incident.reference} declared. Its runbook is your checklist.")
        return redirect("incidents:detail", pk=incident.pk)
    return render(
        request,
        "incidents/incident_declare.html",
        {
            "form": form,
            "scenario_descriptions": {str(k): v for k, v in SCENARIO_DESCRIPTIONS.items()},
            "severity_meanings": {str(k): v for k, v in SEVERITY_MEANINGS.items()},
            "severities": Severity,
        },
        status=400 if request.method == "POST" else 200,
    )


@require_GET
@login_required
def timeline_json(request: AppRequest, pk: int) -> JsonResponse:
    require(can_view, request.user)
    incident = get_object_or_404(Incident, pk=pk)
    return JsonResponse(export.timeline_json(incident), json_dumps_params={"ensure_ascii": False})


@require_GET
@login_required
def timeline_markdown(request: AppRequest, pk: int) -> HttpResponse:
    require(can_view, request.user)
    incident = get_object_or_404(Incident, pk=pk)
    response = HttpResponse(export.timeline_markdown(incident), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{incident.reference}-timeline.md"'
    return response


@require_GET
@login_required
def incident_detail(request: AppRequest, pk: int) -> HttpResponse:
    require(can_view, request.user)
    incident = get_object_or_404(Incident, pk=pk)
    return _render_incident(request, incident)


def _render_incident(request: AppRequest, incident: Incident, status: int = 200, **bound_forms: Any) -> HttpResponse:
    context = pages.incident_context(incident.pk, request.user)
    context.update(pages.incident_forms(context["incident"], **bound_forms))
    template = "incidents/incident_detail.html#htmx-response" if request.htmx else "incidents/incident_detail.html"
    return render(request, template, context, status=status)


def _after_change(request: AppRequest, incident: Incident, status: int = 200, **bound_forms: Any) -> HttpResponseBase:
    if request.htmx:
        return _render_incident(request, incident, status=status, **bound_forms)
    # Bad input is answered 400 with the page and what was wrong; a conflict (409) redirects to
    # the fresh page, which shows the message.
    if status == 400 or (bound_forms and status >= 400):
        return _render_incident(request, incident, status=status, **bound_forms)
    return redirect("incidents:detail", pk=incident.pk)


def _working_incident(request: AppRequest, pk: int) -> Incident:
    require(can_work_incidents, request.user)
    return get_object_or_404(Incident, pk=pk)


@require_POST
@login_required
def incident_change_status(request: AppRequest, pk: int) -> HttpResponseBase:
    incident = _working_incident(request, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That status change was not understood; reload the page and try again.")
        return _after_change(request, incident, status=400)
    try:
        services.incident_change_status(
            incident_id=incident.pk,
            user=request.user,
            from_status=form.cleaned_data["from_status"],
            to_status=form.cleaned_data["to_status"],
        )
    except ERRORS as exc:
        messages.error(request, str(exc))
        return _after_change(request, incident, status=409)
    return _after_change(request, incident)


@require_POST
@login_required
def incident_update_details(request: AppRequest, pk: int) -> HttpResponseBase:
    incident = _working_incident(request, pk)
    changes, form = details_changes(incident, request.POST)
    if changes is None:
        return _after_change(request, incident, status=400, details_form=form)
    try:
        changed = services.incident_update(incident_id=incident.pk, user=request.user, changes=changes)
    except ERRORS as exc:
        messages.error(request, str(exc))
        return _after_change(request, incident, status=409)
    messages.success(request, "Saved." if changed else "Nothing changed.")
    return _after_change(request, incident)


@require_POST
@login_required
def checklist_item_state(request: AppRequest, pk: int, item_pk: int, state: str) -> HttpResponseBase:
    incident = _working_incident(request, pk)
    get_object_or_404(ChecklistItem, pk=item_pk, incident=incident)
    form = ChecklistStateForm(request.POST)
    if state not in ChecklistItem.State.values or not form.is_valid():
        messages.error(request, "That checklist change was not understood; reload the page and try again.")
        return _after_change(request, incident, status=400)
    try:
        services.checklist_item_set_state(
            incident_id=incident.pk,
            item_id=item_pk,
            user=request.user,
            state=state,
            from_state=form.cleaned_data["from_state"],
            reason=form.cleaned_data["reason"],
        )
    except ERRORS as exc:
        messages.error(request, str(exc))
        return _after_change(request, incident, status=409)
    return _after_change(request, incident)


@require_POST
@login_required
def notification_add(request: AppRequest, pk: int) -> HttpResponseBase:
    incident = _working_incident(request, pk)
    form = NotificationForm(request.POST)
    if not form.is_valid():
        return _after_change(request, incident, status=400, notification_form=form)
    try:
        services.notification_record(incident_id=incident.pk, user=request.user, **form.cleaned_data)
    except ERRORS as exc:
        messages.error(request, str(exc))
        return _after_change(request, incident, status=409)
    return _after_change(request, incident)


@require_POST
@login_required
def notification_acknowledge(request: AppRequest, pk: int, entry_pk: int) -> HttpResponseBase:
    incident = _working_incident(request, pk)
    get_object_or_404(NotificationEntry, pk=entry_pk, incident=incident)
    try:
        services.notification_acknowledge(incident_id=incident.pk, entry_id=entry_pk, user=request.user)
    except ERRORS as exc:
        messages.error(request, str(exc))
        return _after_change(request, incident, status=409)
    return _after_change(request, incident)


@require_POST
@login_required
def note_add(request: AppRequest, pk: int) -> HttpResponseBase:
    incident = _working_incident(request, pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _after_change(request, incident, status=400, note_form=form)
    try:
        services.note_add(incident_id=incident.pk, user=request.user, body=form.cleaned_data["body"])
    except ERRORS as exc:
        messages.error(request, str(exc))
        return _after_change(request, incident, status=400)
    return _after_change(request, incident)
