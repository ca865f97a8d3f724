"""The web side of runs: the form, requests, approvals, break glass, cancel, the run page, the
list, files and downloads — what each role may do and what bad input gets."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.models import User
from apps.health.models import Host
from apps.incidents.models import ChecklistItem, EventKind, Incident, TimelineEvent
from apps.remediation import services
from apps.remediation.models import ActionRun, ApprovalRule, Artifact
from apps.runbooks.models import Scenario
from tests.factories import declare_incident
from tests.remediation.conftest import execute, request_run

pytestmark = pytest.mark.django_db

MAINTENANCE_ON = {"host": "", "p-mode": "on", "p-message": "Back soon"}


def _post_maintenance(client: Client, on: Host, **extra: str) -> object:
    return client.post(
        reverse("remediation:new", args=["maintenance_mode"]), {**MAINTENANCE_ON, "host": on.name, **extra}
    )


@pytest.fixture
def defacement(procedures: object, responder: User) -> Incident:
    return declare_incident(responder, scenario=Scenario.WEBSITE_DEFACEMENT, title="Home page defaced")


def _step(incident: Incident, action: str) -> ChecklistItem:
    return incident.checklist.filter(action=action).order_by("position").first()  # type: ignore[attr-defined]


def test_a_runbook_step_offers_its_action_prefilled_for_the_incident(responder_client, defacement, local_host):
    step = _step(defacement, "maintenance_mode")
    page = responder_client.get(reverse("incidents:detail", args=[defacement.pk])).content.decode()
    link = f"{reverse('remediation:new', args=['maintenance_mode'])}?incident={defacement.pk}&amp;step={step.pk}"
    assert link in page
    form = responder_client.get(link.replace("&amp;", "&")).content.decode()
    assert f'name="step" value="{step.pk}"' in form
    assert "Maintenance mode" in form


def test_requesting_from_a_step_records_the_run_and_puts_it_on_the_timeline(
    responder_client, responder, defacement, local_host
):
    step = _step(defacement, "maintenance_mode")
    response = _post_maintenance(responder_client, local_host, incident=str(defacement.pk), step=str(step.pk))
    run = ActionRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("remediation:run", args=[run.pk])
    assert (run.state, run.incident, run.checklist_item, run.params) == (
        ActionRun.State.QUEUED,
        defacement,
        step,
        {"mode": "on", "message": "Back soon"},
    )
    assert TimelineEvent.objects.filter(
        incident=defacement,
        kind=EventKind.RUN_REQUESTED,
        run=run,
        actor=responder,
        data={"awaiting_approval": False},
    ).exists()


def test_a_successful_verified_run_ticks_its_step(responder, defacement, local_host):
    step = _step(defacement, "maintenance_mode")
    run = execute(
        request_run(
            responder,
            "maintenance_mode",
            {"mode": "on", "message": "x"},
            host=local_host,
            incident=defacement,
            item=step,
        )
    )
    step.refresh_from_db()
    assert run.verified
    assert step.state == ChecklistItem.State.DONE
    assert step.completed_by == responder
    assert TimelineEvent.objects.filter(
        incident=defacement, kind=EventKind.STEP_DONE, item=step, run=run, actor=responder, data__verified=True
    ).exists()


def test_a_dry_run_never_ticks_its_step(responder, defacement, local_host):
    step = _step(defacement, "maintenance_mode")
    execute(
        request_run(
            responder,
            "maintenance_mode",
            {"mode": "on", "message": "x"},
            host=local_host,
            incident=defacement,
            item=step,
            dry_run=True,
        )
    )
    step.refresh_from_db()
    assert step.state == ChecklistItem.State.PENDING


@pytest.mark.parametrize("who", ["manager_client", "comms_client"])
def test_roles_that_do_not_work_incidents_cannot_request(request, who, local_host):
    client = request.getfixturevalue(who)
    assert client.get(reverse("remediation:new", args=["maintenance_mode"])).status_code == 403
    assert _post_maintenance(client, local_host).status_code == 403
    assert not ActionRun.objects.exists()


def test_anonymous_users_are_sent_to_sign_in(client, local_host):
    response = client.get(reverse("remediation:list"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"p-mode": "sideways"}, "Select a valid choice"),
        ({"p-message": "x" * 501}, "at most 500 characters"),
        ({"p-message": "bell\x07"}, "control characters"),
        ({"host": "no-such-host"}, "Select a valid choice"),
    ],
)
def test_bad_parameters_get_a_clear_error_and_nothing_is_recorded(responder_client, local_host, data, field_error):
    response = _post_maintenance(responder_client, local_host, **data)
    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert not ActionRun.objects.exists()


def test_unknown_action_incident_or_step_is_not_found(responder_client, defacement, local_host, procedures, responder):
    other = declare_incident(responder, title="Another")
    foreign_step = _step(other, "restore_database")
    assert responder_client.get("/actions/new/rm_rf/").status_code == 404
    assert (
        responder_client.get(reverse("remediation:new", args=["maintenance_mode"]) + "?incident=99999").status_code
        == 404
    )
    url = reverse("remediation:new", args=["maintenance_mode"]) + f"?incident={defacement.pk}&step={foreign_step.pk}"
    assert responder_client.get(url).status_code == 404
    assert (
        responder_client.get(reverse("remediation:new", args=["maintenance_mode"]) + "?incident=1;drop").status_code
        == 404
    )


@pytest.fixture
def approval_needed() -> None:
    ApprovalRule.objects.create(action="maintenance_mode", needs_approval=True)


def test_a_run_that_needs_approval_waits_and_the_requester_cannot_approve_it(
    responder_client, responder, local_host, approval_needed
):
    _post_maintenance(responder_client, local_host)
    run = ActionRun.objects.get()
    assert run.state == ActionRun.State.AWAITING_APPROVAL
    page = responder_client.get(reverse("remediation:run", args=[run.pk])).content.decode()
    assert "Approve and run" not in page
    responder_client.post(reverse("remediation:approve", args=[run.pk]))
    run.refresh_from_db()
    assert run.state == ActionRun.State.AWAITING_APPROVAL
    assert execute(run).state == ActionRun.State.AWAITING_APPROVAL  # a forged message runs nothing


def test_a_manager_approves_and_the_run_is_queued_and_recorded(
    responder_client, manager_client, manager, local_host, approval_needed
):
    _post_maintenance(responder_client, local_host)
    run = ActionRun.objects.get()
    page = manager_client.get(reverse("remediation:run", args=[run.pk])).content.decode()
    assert "Approve and run" in page
    manager_client.post(reverse("remediation:approve", args=[run.pk]))
    run.refresh_from_db()
    assert (run.state, run.approved_by) == (ActionRun.State.QUEUED, manager)
    assert execute(run).state == ActionRun.State.SUCCEEDED


def test_a_rejection_needs_a_reason(responder_client, manager_client, local_host, approval_needed):
    _post_maintenance(responder_client, local_host)
    run = ActionRun.objects.get()
    manager_client.post(reverse("remediation:reject", args=[run.pk]), {"note": ""})
    run.refresh_from_db()
    assert run.state == ActionRun.State.AWAITING_APPROVAL
    manager_client.post(reverse("remediation:reject", args=[run.pk]), {"note": "Not during business hours"})
    run.refresh_from_db()
    assert (run.state, run.decision_note) == (ActionRun.State.REJECTED, "Not during business hours")
    assert execute(run).state == ActionRun.State.REJECTED


def test_break_glass_runs_without_approval_and_is_loud(
    responder_client, responder, defacement, local_host, approval_needed
):
    _post_maintenance(
        responder_client, local_host, incident=str(defacement.pk), break_glass_reason="Manager unreachable"
    )
    run = ActionRun.objects.get()
    assert run.state == ActionRun.State.QUEUED
    assert run.break_glass_reason == "Manager unreachable"
    assert TimelineEvent.objects.filter(
        incident=defacement,
        kind=EventKind.BREAK_GLASS,
        run=run,
        actor=responder,
        data={"reason": "Manager unreachable"},
    ).exists()
    assert not TimelineEvent.objects.filter(kind=EventKind.RUN_REQUESTED).exists()
    board = responder_client.get(reverse("incidents:board")).content.decode()
    assert "Break glass" in board
    assert "Manager unreachable" in board


def test_a_dry_run_needs_no_approval(responder_client, local_host, approval_needed):
    _post_maintenance(responder_client, local_host, dry_run="on")
    assert ActionRun.objects.get().state == ActionRun.State.QUEUED


def test_a_queued_run_can_be_cancelled_and_then_never_runs(responder_client, local_host, action_folders):
    _post_maintenance(responder_client, local_host)
    run = ActionRun.objects.get()
    responder_client.post(reverse("remediation:cancel", args=[run.pk]), {"note": "Wrong host"})
    run = execute(run)
    assert run.state == ActionRun.State.CANCELLED
    assert not (action_folders["MAINTENANCE_DIR"] / "maintenance.flag").exists()


def test_another_responder_cannot_cancel_someone_elses_run(responder_client, second_responder, local_host):
    _post_maintenance(responder_client, local_host)
    run = ActionRun.objects.get()
    other = Client()
    other.force_login(second_responder)
    other.post(reverse("remediation:cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.state == ActionRun.State.QUEUED


def test_the_run_page_shows_the_log_escaped_and_the_undo(responder_client, responder, local_host):
    run = execute(request_run(responder, "maintenance_mode", {"mode": "on", "message": "<b>bold</b>"}, host=local_host))
    services.log_append(run.pk, [("out", "<script>alert(1)</script>")])
    page = responder_client.get(reverse("remediation:run", args=[run.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "Undo…" in page
    assert "p-mode=off" in page
    assert f"undoes={run.pk}" in page


def test_the_board_shows_maintenance_mode_since_when_and_by_whom(responder_client, responder, local_host):
    execute(request_run(responder, "maintenance_mode", {"mode": "on", "message": "Upgrading"}, host=local_host))
    board = responder_client.get(reverse("incidents:board")).content.decode()
    assert "Maintenance mode is on" in board
    assert responder.display_name in board
    assert "Upgrading" in board
    execute(request_run(responder, "maintenance_mode", {"mode": "off"}, host=local_host))
    assert "Maintenance mode is on" not in responder_client.get(reverse("incidents:board")).content.decode()


def test_the_run_list_filters_and_keeps_its_query_count(responder_client, responder, second_responder, local_host):
    def add(user: User, n: int) -> None:
        for _ in range(n):
            request_run(user, "maintenance_mode", {"mode": "off"}, host=local_host)

    add(responder, 3)
    url = reverse("remediation:list")
    with CaptureQueriesContext(connection) as few:
        assert responder_client.get(url).status_code == 200
    add(second_responder, 40)
    with CaptureQueriesContext(connection) as many:
        page = responder_client.get(url).content.decode()
    assert len(many) == len(few)
    assert page.count("<tr>") == 44  # header + 43 runs
    filtered = responder_client.get(url, {"person": responder.username}).content.decode()
    assert filtered.count("<tr>") == 4
    assert responder_client.get(url, {"state": "bogus", "incident": "x"}).status_code == 200


def test_files_and_downloads_are_for_authorised_roles_only(
    responder_client, comms_client, manager_client, local_host, action_folders
):
    bundle = action_folders["EVIDENCE_DIR"] / "evidence-1.tar.gz"
    bundle.write_bytes(b"evidence bytes")
    artifact = Artifact.objects.create(
        kind=Artifact.Kind.EVIDENCE, host=local_host, name=bundle.name, size=14, sha256="0" * 64
    )
    url = reverse("remediation:download", args=[artifact.pk])
    assert comms_client.get(url).status_code == 403
    assert comms_client.get(reverse("remediation:files")).status_code == 403
    for client in (responder_client, manager_client):
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"evidence bytes"
        assert "evidence-1.tar.gz" in client.get(reverse("remediation:files")).content.decode()


def test_a_recorded_name_cannot_reach_outside_its_folder(responder_client, local_host, action_folders, tmp_path: Path):
    (tmp_path / "secret.txt").write_text("not for you")
    artifact = Artifact.objects.create(
        kind=Artifact.Kind.EVIDENCE, host=local_host, name="../secret.txt", size=1, sha256="0" * 64
    )
    assert responder_client.get(reverse("remediation:download", args=[artifact.pk])).status_code == 404
    missing = Artifact.objects.create(
        kind=Artifact.Kind.BACKUP, host=local_host, name="gone.dump", size=1, sha256="0" * 64
    )
    response = responder_client.get(reverse("remediation:download", args=[missing.pk]))
    assert response.status_code == 404


def test_admins_set_approval_rules_and_runs_are_read_only_in_the_admin(admin_client_, responder, local_host):
    response = admin_client_.post(
        "/admin/remediation/approvalrule/add/",
        {"action": "maintenance_mode", "needs_approval": "on", "managers_may_approve": "on", "allow_break_glass": ""},
    )
    assert response.status_code == 302
    run = request_run(responder, "maintenance_mode", {"mode": "off"}, host=local_host)
    assert run.state == ActionRun.State.AWAITING_APPROVAL
    with pytest.raises(services.RunRuleError, match="may not be run by breaking the glass"):
        request_run(responder, "maintenance_mode", {"mode": "off"}, host=local_host, break_glass_reason="hurry")
    assert admin_client_.post("/admin/remediation/approvalrule/add/", {"action": "rm_rf"}).status_code == 200
    assert admin_client_.get(f"/admin/remediation/actionrun/{run.pk}/change/").status_code == 200
    assert admin_client_.post(f"/admin/remediation/actionrun/{run.pk}/delete/").status_code == 403
    assert admin_client_.get("/admin/remediation/runlogline/add/").status_code == 403


def test_choosing_another_host_reloads_the_form_for_it_keeping_what_was_typed(responder_client, local_host):
    other = Host.objects.create(name="web-2")
    url = reverse("remediation:new", args=["maintenance_mode"])
    form = responder_client.get(url).content.decode()
    assert f'hx-get="{url}"' in form
    assert "csrfmiddlewaretoken" not in form.split('hx-include="')[1].split('"')[0]
    again = responder_client.get(url, {"host": other.name, "p-message": "Kept <text>"}).content.decode()
    assert '<option value="web-2" selected>' in again
    assert "Kept &lt;text&gt;" in again


def test_an_action_refuses_a_host_it_cannot_run_on(responder_client, responder, local_host):
    bare = Host.objects.create(name="bare-1")
    response = responder_client.post(
        reverse("remediation:new", args=["restart_service"]), {"host": bare.name, "p-service": "nginx"}
    )
    assert response.status_code == 400
    assert "bare-1 has no services to restart" in response.content.decode()
    with pytest.raises(services.RunRuleError, match="no services to restart"):
        services.run_request(
            user=responder,
            request=services.RunRequest(action="restart_service", host=bare, params={"service": "nginx"}),
        )
    assert not ActionRun.objects.exists()


def test_decisions_from_a_live_page_go_through_htmx_and_land_on_the_run(responder_client, manager_client, local_host):
    ApprovalRule.objects.create(action="maintenance_mode", needs_approval=True)
    _post_maintenance(responder_client, local_host)
    run = ActionRun.objects.get()
    response = manager_client.post(reverse("remediation:approve", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("remediation:run", args=[run.pk])
    run.refresh_from_db()
    assert run.state == ActionRun.State.QUEUED


@pytest.mark.parametrize("bad", ["²", "9" * 4400, "-1", "0", "1e3"])
def test_crafted_ids_are_not_found_never_a_server_error(responder_client, local_host, bad):
    url = reverse("remediation:new", args=["maintenance_mode"])
    assert responder_client.get(url, {"incident": bad}).status_code == 404
    assert responder_client.get(reverse("remediation:list"), {"incident": bad}).status_code == 200
    response = _post_maintenance(responder_client, local_host, undoes=bad)
    assert response.status_code == 302
    assert ActionRun.objects.get().undoes is None
    ActionRun.objects.all().delete()


def test_the_communications_role_sees_a_runs_state_but_not_its_output_or_files(
    responder, comms_client, local_host, action_folders
):
    run = execute(request_run(responder, "capture_forensics", {}, host=local_host))
    page = comms_client.get(reverse("remediation:run", args=[run.pk])).content.decode()
    assert "Succeeded" in page
    assert "Files produced" not in page
    assert 'class="log-line' not in page
    assert "The output is shown to responders, managers and admins." in page


def test_the_board_finds_each_hosts_maintenance_state_however_many_runs_there_are(
    responder_client, responder, local_host
):
    from django.utils import timezone

    busy = Host.objects.create(name="a-busy")
    ActionRun.objects.bulk_create(
        ActionRun(action="maintenance_mode", host=busy, params={"mode": "off"}, result={"mode": "off"},
                  state=ActionRun.State.SUCCEEDED, finished_at=timezone.now())
        for _ in range(600)
    )  # fmt: skip
    execute(request_run(responder, "maintenance_mode", {"mode": "on", "message": "Late host"}, host=local_host))
    with CaptureQueriesContext(connection) as queries:
        from apps.remediation.selectors import maintenance_states

        states = {state.host_name: state.on for state in maintenance_states()}
    assert states == {"a-busy": False, local_host.name: True}
    assert len(queries) == 1
    assert "Late host" in responder_client.get(reverse("incidents:board")).content.decode()
