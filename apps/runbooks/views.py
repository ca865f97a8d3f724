from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.permissions import can_manage_setup, can_view, require
from apps.core.http import AppRequest
from apps.runbooks import selectors, services
from apps.runbooks.forms import RunbookForm, StepFormSet
from apps.runbooks.models import Runbook, Scenario


@require_GET
@login_required
def runbook_list(request: AppRequest) -> HttpResponse:
    require(can_view, request.user)
    return render(request, "runbooks/runbook_list.html", {"runbooks": selectors.runbooks_overview()})


@require_GET
@login_required
def runbook_detail(request: AppRequest, pk: int) -> HttpResponse:
    require(can_view, request.user)
    runbook = get_object_or_404(Runbook.objects.select_related("first_contact_role", "last_reviewed_by"), pk=pk)
    return render(
        request, "runbooks/runbook_detail.html", {"runbook": runbook, "sections": selectors.runbook_sections(runbook)}
    )


@require_GET
@login_required
def runbook_for_scenario(request: AppRequest, scenario: str) -> HttpResponseBase:
    require(can_view, request.user)
    if scenario not in Scenario.values:
        raise Http404("No such scenario.")
    return redirect("runbooks:detail", pk=get_object_or_404(Runbook, scenario=scenario).pk)


@login_required
def runbook_edit(request: AppRequest, pk: int) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    runbook = get_object_or_404(Runbook, pk=pk)
    form = RunbookForm(request.POST or None, instance=runbook)
    formset = StepFormSet(request.POST or None, instance=runbook, prefix="steps")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        kept = [
            f.cleaned_data
            for f in formset.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("title")
        ]
        if not kept:
            messages.error(request, "A runbook needs at least one step.")
        else:
            # A number is required on every kept step; 0 sorts first like any other number.
            kept.sort(key=lambda data: data["position"])
            fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
            services.runbook_save(runbook=runbook, fields=fields, steps=kept)
            messages.success(request, f"{runbook.title} saved. Incidents already declared keep their checklist.")
            return redirect("runbooks:detail", pk=runbook.pk)
    return render(
        request,
        "runbooks/runbook_form.html",
        {"runbook": runbook, "form": form, "formset": formset},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@login_required
def runbook_mark_reviewed(request: AppRequest, pk: int) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    runbook = services.runbook_mark_reviewed(runbook=get_object_or_404(Runbook, pk=pk), user=request.user)
    messages.success(request, f"{runbook.title} marked as reviewed today.")
    return redirect("runbooks:detail", pk=runbook.pk)
