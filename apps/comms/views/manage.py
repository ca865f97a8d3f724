"""Signed-in communication pages: the managers' overview (every incident's latest update and how
old it is, the mail to subscribers) and the scheduled maintenance windows."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.permissions import can_view, require
from apps.comms import access, selectors
from apps.comms.forms import MaintenanceForm
from apps.comms.models import MaintenanceWindow, Notice
from apps.comms.services import mailing
from apps.comms.services.maintenance import (
    MaintenanceRuleError,
    maintenance_announce,
    maintenance_cancel,
    maintenance_finish,
)
from apps.core.http import AppRequest
from apps.incidents.models import Severity


@login_required
@require_GET
def overview(request: AppRequest) -> HttpResponse:
    require(can_view, request.user)
    return render(
        request,
        "comms/overview.html",
        {
            "rows": selectors.overview(),
            "mail": selectors.mail_overview(),
            "can_manage": access.can_manage_status_page(request.user),
            "cadence_minutes": [(Severity(k).label, v) for k, v in settings.COMMS_CADENCE_MINUTES.items()],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def maintenance(request: AppRequest) -> HttpResponse:
    require(can_view, request.user)
    can_manage = access.can_manage_status_page(request.user)
    form = MaintenanceForm(request.POST or None)
    status = 200
    if request.method == "POST":
        require(access.can_manage_status_page, request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                window = maintenance_announce(
                    user=request.user,
                    title=data["title"],
                    body=data["body"],
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    components=list(data["components"]),
                    notify=data["notify"],
                )
            except MaintenanceRuleError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"“{window.title}” is announced on the status page.")
                return redirect("comms:maintenance")
        status = 400
    return render(
        request,
        "comms/maintenance.html",
        {"form": form, "windows": selectors.maintenance_windows(), "can_manage": can_manage},
        status=status,
    )


def _change_window(request: AppRequest, pk: int, change: str) -> HttpResponseBase:
    require(access.can_manage_status_page, request.user)
    window = get_object_or_404(MaintenanceWindow, pk=pk)
    try:
        if change == "cancel":
            maintenance_cancel(window_id=window.pk, user=request.user)
            messages.success(request, f"“{window.title}” is cancelled and gone from the status page.")
        else:
            maintenance_finish(window_id=window.pk, user=request.user)
            messages.success(request, f"“{window.title}” is finished; its components are back to normal.")
    except MaintenanceRuleError as exc:
        messages.error(request, str(exc))
    return redirect("comms:maintenance")


@login_required
@require_POST
def maintenance_cancel_view(request: AppRequest, pk: int) -> HttpResponseBase:
    return _change_window(request, pk, "cancel")


@login_required
@require_POST
def maintenance_finish_view(request: AppRequest, pk: int) -> HttpResponseBase:
    return _change_window(request, pk, "finish")


@login_required
@require_POST
def notice_retry(request: AppRequest, pk: int) -> HttpResponseBase:
    require(access.can_manage_status_page, request.user)
    notice = get_object_or_404(Notice, pk=pk)
    count = mailing.notice_retry_failed(notice.pk)
    messages.success(request, f"{count} failed deliver{'y' if count == 1 else 'ies'} queued again.")
    return redirect("comms:overview")
