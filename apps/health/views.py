from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.accounts.permissions import can_view, can_work_incidents, require
from apps.core.http import AppRequest
from apps.health import alertmanager, selectors, services
from apps.health.models import Host, Probe, Sample, SecuritySnapshot
from apps.incidents.models import Incident

MAX_WEBHOOK_BYTES = 512 * 1024


@require_GET
@login_required
def overview(request: AppRequest) -> HttpResponse:
    """Every host with every probe."""
    require(can_view, request.user)
    hosts = list(Host.objects.all())
    return render(request, "health/overview.html", {"hosts": hosts, "widgets": selectors.widgets(hosts)})


@require_GET
@login_required
def host_detail(request: AppRequest, name: str) -> HttpResponse:
    require(can_view, request.user)
    host = get_object_or_404(Host, name=name)
    window = request.GET.get("window", "1h")
    if window not in selectors.CHART_WINDOWS:
        window = "1h"
    widgets = selectors.widgets([host])
    charts = {probe: selectors.chart(host, probe, window) for probe in (Probe.CPU, Probe.LOAD, Probe.MEMORY,
              Probe.DISK, Probe.POSTGRES, Probe.WEBSITE)}  # fmt: skip
    return render(
        request,
        "health/host_detail.html",
        {
            "host": host,
            "widgets": widgets,
            "charts": charts,
            "window": window,
            "windows": list(selectors.CHART_WINDOWS),
            "snapshots": selectors.latest_snapshots(host),
            "snapshot_kinds": SecuritySnapshot.Kind.choices,
        },
    )


@require_POST
@login_required
def snapshot_request(request: AppRequest, name: str, kind: str) -> HttpResponseBase:
    require(can_work_incidents, request.user)
    host = get_object_or_404(Host, name=name)
    if kind not in SecuritySnapshot.Kind.values:
        raise Http404("No such snapshot.")
    services.snapshot_request(host=host, kind=kind, user=request.user)
    messages.success(request, f"Asked {host.name}'s worker for {SecuritySnapshot.Kind(kind).label.lower()}.")
    return redirect("health:host", name=host.name)


@require_POST
@login_required
def signal_attach(request: AppRequest) -> HttpResponseBase:
    """Attach a critical reading to an open incident's timeline."""
    require(can_work_incidents, request.user)
    try:
        sample_id, incident_id = int(request.POST["sample"]), int(request.POST["incident"])
    except (KeyError, ValueError):
        messages.error(request, "That signal could not be attached: reload the board and try again.")
        return redirect("incidents:board")
    sample = get_object_or_404(Sample.objects.select_related("host"), pk=sample_id)
    incident = get_object_or_404(Incident, pk=incident_id)
    if not incident.is_active:
        messages.error(request, f"{incident.reference} is no longer active; declare a new incident instead.")
        return redirect("incidents:board")
    services.signal_attach(incident_id=incident.pk, sample=sample, user=request.user)
    messages.success(request, f"Signal attached to {incident.reference}.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("incidents:detail", args=[incident.pk]))
    return redirect("incidents:detail", pk=incident.pk)


@csrf_exempt  # authenticated by its bearer token, not a browser session
@require_POST
def alertmanager_webhook(request: HttpRequest) -> JsonResponse:
    token = settings.ALERTMANAGER_TOKEN
    header = request.headers.get("Authorization", "")
    supplied = header[7:] if header.startswith("Bearer ") else ""
    if not token:
        return JsonResponse(
            {"error": "The Alertmanager webhook is disabled: ALERTMANAGER_TOKEN is not set."}, status=403
        )
    if not supplied or not hmac.compare_digest(supplied.encode(), token.encode()):
        return JsonResponse({"error": "Missing or wrong bearer token."}, status=401)
    # Judged from the declared length first: reading a body over DATA_UPLOAD_MAX_MEMORY_SIZE
    # raises, and Django would answer a bare 400 instead of this clear 413.
    declared_length = request.META.get("CONTENT_LENGTH") or ""
    too_large = declared_length.isdigit() and int(declared_length) > MAX_WEBHOOK_BYTES
    if too_large or len(request.body) > MAX_WEBHOOK_BYTES:
        return JsonResponse({"error": f"The body is larger than {MAX_WEBHOOK_BYTES} bytes."}, status=413)
    try:
        payload = alertmanager.parse(json.loads(request.body))
        incident, opened = services.alert_receive(payload)
    except json.JSONDecodeError:
        return JsonResponse({"error": "The body is not valid JSON."}, status=400)
    except alertmanager.PayloadError as exc:
        return JsonResponse({"error": str(exc)}, status=422)
    return JsonResponse({"incident": incident.reference, "opened": opened}, status=201 if opened else 200)
