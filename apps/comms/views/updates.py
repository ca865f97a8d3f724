"""Writing updates on an incident: a template to start from, a preview, then post.

The composer lives in the incident page's communications panel (htmx swaps it in place and
keeps a draft through live refreshes) and on its own page, which works without JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.permissions import can_view, require
from apps.comms import access, selectors
from apps.comms.forms import UpdateForm
from apps.comms.models import Update
from apps.comms.prefill import compose_form
from apps.comms.services.updates import UpdateRuleError, update_post
from apps.core.http import AppRequest
from apps.core.markdown import render_markdown
from apps.incidents.models import Incident


def _incident(request: AppRequest, pk: int) -> Incident:
    require(can_view, request.user)
    incident = get_object_or_404(Incident.objects.select_related("coordinator", "commander"), pk=pk)
    access.require_post_updates(request.user, incident)
    return incident


def _preview(form: UpdateForm) -> dict[str, object] | None:
    """What the update will look like, from whatever of the form is valid so far."""
    data = getattr(form, "cleaned_data", {})
    if not data.get("body"):
        return None
    states = [
        (component.name, label)
        for component in form.components
        for value, label in form.fields[f"component_{component.code}"].choices  # type: ignore[attr-defined]
        if value and data.get(f"component_{component.code}") == value
    ]
    return {
        "public": data.get("audience") == Update.Audience.PUBLIC,
        "title": data.get("title", ""),
        "status": Update.Status(data["status"]).label if data.get("status") else "",
        "html": render_markdown(str(data["body"])),
        "components": states,
    }


def _render(
    request: AppRequest, incident: Incident, form: UpdateForm, *, status: int = 200, preview: bool = False
) -> HttpResponse:
    context: dict[str, object] = {
        "incident": incident,
        "form": form,
        "preview": _preview(form) if preview else None,
        "statuses": Update.Status.choices,
        "updates": None,
    }
    if request.htmx:
        if request.method == "POST" and status < 400 and not preview:
            # Posted: the list of updates is swapped in too (out of band).
            context["updates"] = selectors.incident_updates(incident)
        return render(request, "comms/update_compose.html#htmx-response", context, status=status)
    return render(request, "comms/update_compose.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def compose(request: AppRequest, pk: int) -> HttpResponseBase:
    incident = _incident(request, pk)
    if request.method == "GET":
        form = compose_form(incident, status=request.GET.get("status"), audience=request.GET.get("audience"))
        return _render(request, incident, form)
    form = compose_form(incident, data=request.POST)
    if request.POST.get("action") == "preview":
        form.is_valid()
        return _render(request, incident, form, status=200 if form.is_valid() else 400, preview=True)
    if not form.is_valid():
        return _render(request, incident, form, status=400, preview=True)
    try:
        update = update_post(incident_id=incident.pk, author=request.user, draft=form.draft())
    except UpdateRuleError as exc:
        form.add_error(None, str(exc))
        return _render(request, incident, form, status=400, preview=True)
    where = "on the status page and mailed to subscribers" if update.is_public else "for responders and managers"
    messages.success(request, f"{update.get_audience_display()} update posted {where}.")
    if request.htmx:
        return _render(request, incident, compose_form(incident))
    return redirect(reverse("incidents:detail", args=[incident.pk]) + "#comms")


@login_required
@require_POST
def preview(request: AppRequest, pk: int) -> HttpResponse:
    """The preview alone (htmx): the sanitised body as it will be shown, and any problem."""
    incident = _incident(request, pk)
    form = compose_form(incident, data=request.POST)
    valid = form.is_valid()
    return render(
        request,
        "comms/update_compose.html#preview",
        {"incident": incident, "form": form, "preview": _preview(form), "show_errors": True},
        status=200 if valid else 400,
    )
