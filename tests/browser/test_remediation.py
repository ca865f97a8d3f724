"""Remediation in a real browser: a responder runs maintenance mode from a runbook step and
watches its log arrive; a manager approves a database restore that a responder requested, and
the restore's own verification ticks the runbook step. The host's worker is played by the
product's executor in a thread of this process (the Celery hop is tested on its own in
tests/remediation/test_worker_end_to_end.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from playwright.sync_api import expect

from apps.accounts.models import User
from apps.health.models import Host
from apps.incidents.models import ChecklistItem, EventKind, TimelineEvent
from apps.remediation import executor
from apps.remediation.models import ActionRun
from apps.runbooks.models import Runbook, Scenario
from tests.browser.conftest import Browsers, assert_not_reloaded, mark_window, outside_event_loop, wait_until_live
from tests.factories import declare_incident
from tests.remediation.conftest import execute, request_run
from tests.remediation.pg_target import TargetDb, filled_template, target  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

LIVE_MS = 5000


@pytest.fixture
def folders(tmp_path: Path) -> Iterator[Path]:
    names = ("BACKUP_DIR", "MAINTENANCE_DIR", "EVIDENCE_DIR", "WEB_ROOT")
    for name in names:
        (tmp_path / name).mkdir()
    with override_settings(**{name: tmp_path / name for name in names}):
        yield tmp_path


@pytest.fixture
def this_host(transactional_db: None) -> Host:
    return Host.objects.create(name=settings.INCIDENTCENTER_HOST, description="This machine")


def _worker_runs_the_queued_run() -> ActionRun:
    run = ActionRun.objects.get(state=ActionRun.State.QUEUED)
    outside_event_loop(executor.execute, run_id=run.pk)
    run.refresh_from_db()
    return run


def test_a_responder_runs_maintenance_mode_from_a_step_and_watches_its_log(
    browsers: Browsers, procedures: list[Runbook], responder: User, this_host: Host, folders: Path
) -> None:
    incident = declare_incident(responder, scenario=Scenario.WEBSITE_DEFACEMENT, title="Home page defaced")
    page = browsers.signed_in(responder, f"/incidents/{incident.pk}/")
    step = page.locator('li[data-step="Take website offline"]')
    step.get_by_test_id("run-step-action").click()

    expect(page.get_by_role("heading", name="Maintenance mode")).to_be_visible()
    expect(page.get_by_text("For the runbook step “Take website offline”")).to_be_visible()
    page.get_by_label("Message").fill("Website temporarily unavailable for maintenance.")
    page.get_by_role("button", name="Run maintenance mode").click()

    expect(page.get_by_test_id("run-state")).to_have_text("Queued")
    wait_until_live(page)
    mark_window(page)
    run = _worker_runs_the_queued_run()
    assert run.state == ActionRun.State.SUCCEEDED

    expect(page.get_by_test_id("run-log")).to_contain_text("Flag written", timeout=LIVE_MS)
    expect(page.get_by_test_id("run-state")).to_have_text("Succeeded", timeout=LIVE_MS)
    expect(page.get_by_test_id("run-verified")).to_be_visible()
    expect(page.get_by_role("link", name="Undo…")).to_be_visible()
    assert_not_reloaded(page)
    assert (folders / "MAINTENANCE_DIR" / "maintenance.flag").exists()

    page.get_by_role("link", name=incident.reference).first.click()
    expect(step).to_have_class(re.compile(r"\bstate-done\b"))
    expect(page.locator("#incident-timeline")).to_contain_text(f"verified by run #{run.pk}")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Board").click()
    expect(page.get_by_test_id("maintenance-on")).to_contain_text(responder.display_name)


def test_a_manager_approves_a_restore_and_the_step_ticks_itself(
    browsers: Browsers,
    procedures: list[Runbook],
    responder: User,
    manager: User,
    this_host: Host,
    folders: Path,
    target: TargetDb,  # noqa: F811
) -> None:
    backup = execute(request_run(responder, "backup_database", {"label": "nightly"}, host=this_host))
    assert backup.state == ActionRun.State.SUCCEEDED
    before = target.counts()
    with target.connect() as conn:
        conn.execute("DELETE FROM orders WHERE id % 2 = 0")
    incident = declare_incident(responder, scenario=Scenario.DATABASE_FAILURE, title="Orders corrupted")

    board = browsers.signed_in(manager)
    wait_until_live(board)
    mark_window(board)

    page = browsers.signed_in(responder, f"/incidents/{incident.pk}/")
    page.locator('li[data-step="Restore from backup (if necessary)"]').get_by_test_id("run-step-action").click()
    expect(page.get_by_text("must approve this run")).to_be_visible()
    page.get_by_role("button", name="Request restore the database").click()
    expect(page.get_by_test_id("run-state")).to_have_text("Awaiting approval")
    wait_until_live(page)
    mark_window(page)

    approvals = board.get_by_label("Waiting for approval")
    expect(approvals).to_contain_text("restore_database", timeout=LIVE_MS)
    approvals.get_by_role("link").first.click()
    board.get_by_role("button", name="Approve and run").click()
    expect(board.get_by_test_id("run-state")).to_have_text("Queued")
    expect(page.get_by_test_id("run-state")).to_have_text("Queued", timeout=LIVE_MS)

    run = _worker_runs_the_queued_run()
    assert run.state == ActionRun.State.SUCCEEDED, run.summary
    expect(page.get_by_test_id("run-state")).to_have_text("Succeeded", timeout=LIVE_MS)
    expect(page.get_by_test_id("run-verified")).to_be_visible()
    assert_not_reloaded(page)
    assert target.counts() == before
    item = incident.checklist.get(title="Restore from backup (if necessary)")
    assert item.state == ChecklistItem.State.DONE
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.RUN_APPROVED, run=run, actor=manager).exists()
