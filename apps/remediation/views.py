"""Remediation pages: the catalog and run list, the run form, a run's page with its live log,
approvals, and the backups and evidence files. Views only wire forms to `services`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.accounts.permissions import can_read_evidence, can_view, require
from apps.core.http import AppRequest
from apps.health.models import Host
from apps.incidents.models import ChecklistItem, Incident
from apps.remediation import catalog, pages, rules, selectors, services
from apps.remediation.catalog import ActionError
from apps.remediation.context import safe_child
from apps.remediation.forms import DecisionForm, RunFilterForm, RunOptionsForm, params_form
from apps.remediation.models import ActionRun, Artifact

ARTIFACT_FOLDERS = {
    Artifact.Kind.BACKUP: "BACKUP_DIR",
    Artifact.Kind.WEB_SNAPSHOT: "BACKUP_DIR",
    Artifact.Kind.EVIDENCE: "EVIDENCE_DIR",
}


@require_GET
@login_required
def run_list(request: AppRequest) -> HttpResponse:
    """Every run, newest first, filtered by state, action, host, person and incident; and the
    catalog to start a new one."""
    require(can_view, request.user)
    filters = RunFilterForm(request.GET or None)
    runs = selectors.runs_listed()
    if filters.is_valid():
        data = filters.cleaned_data
        if data["state"]:
            runs = runs.filter(state=data["state"])
        if data["action"]:
            runs = runs.filter(action=data["action"])
        if data["host"]:
            runs = runs.filter(host__name=data["host"])
        if data["person"]:
            runs = runs.filter(requested_by__username=data["person"])
        if data["incident"]:
            runs = runs.filter(incident_id=data["incident"])
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "remediation/run_list.html",
        {
            "page": page,
            "filters": filters,
            "query": query.urlencode(),
            "actions": catalog.all_actions(),
            "hosts": list(Host.objects.all()),
            "titles": dict(catalog.choices()),
        },
    )


MAX_ID = 2**63 - 1


def _id(value: str) -> int | None:
    """A database id from a query string or form, or None for anything else (never a 500)."""
    if value.isascii() and value.isdigit() and len(value) <= 19 and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def _context_objects(request: AppRequest) -> tuple[Incident | None, ChecklistItem | None]:
    """The incident and runbook step a run is asked from (query string or form), validated."""
    source = request.POST if request.method == "POST" else request.GET
    incident = item = None
    incident_id, step_id = source.get("incident", ""), source.get("step", "")
    if incident_id:
        if (pk := _id(incident_id)) is None:
            raise Http404("No such incident.")
        incident = get_object_or_404(Incident, pk=pk)
    if step_id:
        if (pk := _id(step_id)) is None or incident is None:
            raise Http404("No such runbook step.")
        item = get_object_or_404(ChecklistItem, pk=pk, incident=incident)
    return incident, item


@require_http_methods(["GET", "POST"])
@login_required
def run_new(request: AppRequest, action_key: str) -> HttpResponse | HttpResponseBase:
    """The form of one action, pre-filled for an incident's runbook step or a host, or for the
    undo of an earlier run."""
    try:
        action = catalog.get(action_key)
    except KeyError:
        raise Http404("No such action.") from None
    require(action.permission, request.user)
    incident, item = _context_objects(request)
    hosts = list(Host.objects.all())
    if request.method == "POST":
        options = RunOptionsForm(request.POST, action=action)
        host = Host.objects.filter(name=request.POST.get("host", "")).first()
        params = params_form(action, host, data=request.POST)
        if options.is_valid() and params.is_valid():
            data = options.cleaned_data
            undoes = _undoes(request.POST.get("undoes", ""), action.key, data["host"])
            try:
                run = services.run_request(
                    user=request.user,
                    request=services.RunRequest(
                        action=action.key,
                        host=data["host"],
                        params=params.stored(),
                        incident=incident,
                        checklist_item=item,
                        dry_run=bool(data.get("dry_run")),
                        break_glass_reason=data["break_glass_reason"],
                        evidence_override_reason=data["evidence_override_reason"],
                        revert_minutes=data.get("revert_minutes"),
                        session_key=request.session.session_key,
                        undoes=undoes,
                    ),
                )
            except services.RunRuleError as error:
                options.add_error(None, str(error))
            else:
                if run.state == ActionRun.State.AWAITING_APPROVAL:
                    messages.info(
                        request, f"Run #{run.pk} waits for a second person's approval (a manager or an admin)."
                    )
                return redirect("remediation:run", pk=run.pk)
        status = 400
    else:
        host_name = request.GET.get("host", "")
        host = next((h for h in hosts if h.name == host_name), None) or _default_host(hosts)
        initial = {name[2:]: value for name, value in request.GET.items() if name.startswith("p-")}
        options = RunOptionsForm(initial={"host": host.name if host else None}, action=action)
        params = params_form(action, host, initial=initial)
        status = 200
    return render(
        request,
        "remediation/run_form.html",
        {
            "action": action,
            "options": options,
            "params": params,
            "incident": incident,
            "item": item,
            "hosts": hosts,
            "undoes": request.GET.get("undoes") or request.POST.get("undoes", ""),
            "rule": rules.rule_for(action.key),
            "evidence_needed": rules.evidence_needed(incident, action.key),
        },
        status=status,
    )


def _default_host(hosts: list[Host]) -> Host | None:
    return next((h for h in hosts if h.name == settings.INCIDENTCENTER_HOST), hosts[0] if hosts else None)


def _undoes(value: str, action_key: str, host: Host) -> ActionRun | None:
    """The run this request undoes: only a succeeded run on the same host whose undo is this
    action (anything else is ignored, never trusted)."""
    pk = _id(value)
    run = ActionRun.objects.filter(pk=pk, host=host, state=ActionRun.State.SUCCEEDED).first() if pk else None
    if run is None:
        return None
    try:
        undo = catalog.get(run.action).undo(run.params, run.result)
    except KeyError:
        return None
    return run if undo is not None and undo[0] == action_key else None


@require_GET
@login_required
def run_detail(request: AppRequest, pk: int) -> HttpResponse:
    require(can_view, request.user)
    run = get_object_or_404(selectors.runs_listed(), pk=pk)
    return render(request, "remediation/run_detail.html", pages.run_context(run, request.user))


def _decide(request: AppRequest, pk: int, decide: Any, done: str) -> HttpResponseBase:
    require(can_view, request.user)
    run = get_object_or_404(ActionRun, pk=pk)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        decide(run_id=run.pk, user=request.user, note=note)
    except services.RunRuleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, done.format(run=run))
    if request.htmx:
        return HttpResponseClientRedirect(reverse("remediation:run", args=[run.pk]))
    return redirect("remediation:run", pk=run.pk)


@require_POST
@login_required
def run_approve(request: AppRequest, pk: int) -> HttpResponseBase:
    return _decide(
        request,
        pk,
        lambda run_id, user, note: services.run_approve(run_id=run_id, user=user),
        "Run #{run.pk} approved and queued.",
    )


@require_POST
@login_required
def run_reject(request: AppRequest, pk: int) -> HttpResponseBase:
    return _decide(request, pk, services.run_reject, "Run #{run.pk} rejected.")


@require_POST
@login_required
def run_cancel(request: AppRequest, pk: int) -> HttpResponseBase:
    return _decide(request, pk, services.run_cancel, "Run #{run.pk} cancelled.")


@require_POST
@login_required
def run_keep(request: AppRequest, pk: int) -> HttpResponseBase:
    return _decide(
        request,
        pk,
        lambda run_id, user, note: services.run_keep(run_id=run_id, user=user),
        "The change of run #{run.pk} stays.",
    )


@require_GET
@login_required
def files(request: AppRequest) -> HttpResponse:
    """Backups, web content snapshots and forensic bundles, per host (seed: "List available
    backups"), with restore and verify one click away."""
    require(can_read_evidence, request.user)
    return render(
        request,
        "remediation/files.html",
        {
            "backups": list(selectors.backups(kind=Artifact.Kind.BACKUP)[:200]),
            "snapshots": list(selectors.backups(kind=Artifact.Kind.WEB_SNAPSHOT)[:200]),
            "bundles": list(selectors.backups(kind=Artifact.Kind.EVIDENCE)[:200]),
        },
    )


@require_GET
@login_required
def file_download(request: AppRequest, pk: int) -> FileResponse:
    """A produced file, to authorised users only (never served as a static file). It can be
    downloaded from here when the host's folder is on this web server (one-machine setups)."""
    require(can_read_evidence, request.user)
    artifact = get_object_or_404(Artifact.objects.select_related("host"), pk=pk)
    folder = Path(getattr(settings, ARTIFACT_FOLDERS[Artifact.Kind(artifact.kind)]))
    try:
        path = safe_child(folder, artifact.name)
    except ActionError:
        raise Http404("That file name is not valid.") from None
    if not path.is_file():
        raise Http404(f"{artifact.name} is not on this web server: it is kept on {artifact.host.name}.")
    response = FileResponse(path.open("rb"), as_attachment=True, filename=artifact.name)
    response["Cache-Control"] = "private, no-store"
    return response
