from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.permissions import can_manage_setup, can_view, require
from apps.contacts import selectors, services
from apps.contacts.forms import ContactForm, ContactRoleForm, EscalationLevelForm
from apps.contacts.models import Contact, EscalationLevel
from apps.core.http import AppRequest


@require_GET
@login_required
def contact_sheet(request: AppRequest) -> HttpResponse:
    """Who to call, in escalation order; printable."""
    require(can_view, request.user)
    return render(
        request,
        "contacts/contact_sheet.html",
        {"path": selectors.escalation_path(), "roles": selectors.roles_with_contacts()},
    )


@login_required
def contact_edit(request: AppRequest, pk: int | None = None) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    contact = get_object_or_404(Contact, pk=pk) if pk else None
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(request, f"{saved.name} saved.")
        return redirect("contacts:sheet")
    return render(
        request,
        "contacts/contact_form.html",
        {"form": form, "contact": contact},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@login_required
def contact_verify(request: AppRequest, pk: int) -> HttpResponseBase:
    """An admin confirms the contact's details are current (the seed: verify contact information)."""
    require(can_manage_setup, request.user)
    contact = services.contact_mark_verified(contact=get_object_or_404(Contact, pk=pk))
    messages.success(request, f"{contact.name} marked as verified today.")
    return redirect("contacts:sheet")


@require_POST
@login_required
def contact_delete(request: AppRequest, pk: int) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    contact = get_object_or_404(Contact, pk=pk)
    contact.delete()
    messages.success(request, f"{contact.name} removed from the contact sheet.")
    return redirect("contacts:sheet")


@login_required
def escalation_path(request: AppRequest) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    level_form = EscalationLevelForm(request.POST or None, prefix="level")
    if request.method == "POST" and level_form.is_valid():
        services.escalation_level_add(
            role=level_form.cleaned_data["role"], ack_timeout_minutes=level_form.cleaned_data["ack_timeout_minutes"]
        )
        messages.success(request, "Level added at the end of the path.")
        return redirect("contacts:escalation")
    return render(
        request,
        "contacts/escalation_path.html",
        {"path": selectors.escalation_path(), "level_form": level_form, "role_form": ContactRoleForm(prefix="role")},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@login_required
def escalation_level_move(request: AppRequest, pk: int, direction: str) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    if direction not in ("up", "down"):
        raise Http404("A level moves up or down.")
    get_object_or_404(EscalationLevel, pk=pk)
    services.escalation_level_move(level_id=pk, direction=-1 if direction == "up" else 1)
    return redirect("contacts:escalation")


@require_POST
@login_required
def escalation_level_timeout(request: AppRequest, pk: int) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    level = get_object_or_404(EscalationLevel, pk=pk)
    form = EscalationLevelForm(request.POST, instance=level, prefix=f"edit-{pk}")
    if form.is_valid():
        form.save()
        messages.success(request, f"Level {level.position} saved.")
    else:
        messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("contacts:escalation")


@require_POST
@login_required
def escalation_level_remove(request: AppRequest, pk: int) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    get_object_or_404(EscalationLevel, pk=pk)
    services.escalation_level_remove(level_id=pk)
    messages.success(request, "Level removed.")
    return redirect("contacts:escalation")


@require_POST
@login_required
def contact_role_add(request: AppRequest) -> HttpResponseBase:
    require(can_manage_setup, request.user)
    form = ContactRoleForm(request.POST, prefix="role")
    if form.is_valid():
        form.save()
        messages.success(request, f"Role {form.instance.name} added.")
    else:
        messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("contacts:escalation")
