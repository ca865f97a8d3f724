"""A responder declares an incident through the form and works its runbook as a checklist."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.accounts.models import User
from apps.incidents.models import ChecklistItem, EventKind, Incident
from apps.runbooks.models import Runbook
from tests.browser.conftest import Browsers, declare_through_form

pytestmark = pytest.mark.browser

TITLE = "Primary database refuses connections"


def test_a_responder_declares_and_gets_the_runbook_as_checklist(
    browsers: Browsers, procedures: list[Runbook], responder: User
) -> None:
    page = browsers.signed_in(responder)
    declare_through_form(page, TITLE)

    expect(page).to_have_url(re.compile(r"/incidents/\d+/$"))
    incident = Incident.objects.get()
    assert page.url.endswith(f"/incidents/{incident.pk}/")
    expect(page.get_by_role("status")).to_contain_text(f"{incident.reference} declared")
    header = page.locator("#incident-header")
    expect(header.get_by_role("heading", level=1)).to_have_text(f"{incident.reference} {TITLE}")
    expect(header).to_contain_text("SEV1")
    expect(header).to_contain_text("Database Failure")
    expect(page.get_by_test_id("incident-status")).to_have_text("Investigating")

    checklist = page.locator("#incident-checklist")
    expect(checklist.get_by_role("heading", level=3)).to_have_text(
        ["Initial Response", "Database Failure", "Post-Emergency Actions"]
    )
    for step in ("Assess database status", "Check database logs", "Restart database service", "Check for corruption"):
        expect(checklist.locator(f'li[data-step="{step}"]')).to_be_visible()
    steps = checklist.locator("li.step")
    expect(steps).to_have_count(incident.checklist.count())
    expect(checklist.get_by_role("button", name="Mark done")).to_have_count(incident.checklist.count())
    assert incident.severity == "sev1"
    assert incident.scenario == "database_failure"
    assert incident.commander == responder
    declared = incident.events.get(kind=EventKind.DECLARED)
    assert (declared.actor, declared.data["title"]) == (responder, TITLE)
    expect(page.locator("#incident-timeline")).to_contain_text(f"Declared SEV1 Database Failure: {TITLE}")


def test_declaring_without_a_scenario_says_what_is_missing(
    browsers: Browsers, procedures: list[Runbook], responder: User
) -> None:
    page = browsers.signed_in(responder, "/incidents/new/")
    page.get_by_role("radio", name="SEV2").check()
    page.get_by_label("Title").fill(TITLE)
    page.get_by_role("button", name="Declare incident").click()

    expect(page.locator("fieldset", has_text="Scenario").get_by_role("alert")).to_contain_text("required")
    expect(page.get_by_label("Title")).to_have_value(TITLE)
    assert not Incident.objects.exists()


def test_a_responder_ticks_a_step_and_sees_it_done_with_their_name(
    browsers: Browsers, procedures: list[Runbook], responder: User
) -> None:
    page = browsers.signed_in(responder)
    declare_through_form(page, TITLE)
    step = page.locator('li[data-step="Check database logs"]')
    expect(step).to_have_class(re.compile(r"\bstate-pending\b"))

    step.get_by_role("button", name="Mark done").click()

    expect(step).to_have_class(re.compile(r"\bstate-done\b"))
    expect(step.locator(".step-done")).to_contain_text(f"Done by {responder.display_name} at")
    expect(step.get_by_role("button", name="Mark done")).to_have_count(0)
    expect(step.get_by_role("button", name="Reopen")).to_be_visible()
    expect(page.locator("#incident-timeline")).to_contain_text("Done: Check database logs")
    item = ChecklistItem.objects.get(title="Check database logs")
    assert item.state == ChecklistItem.State.DONE
    assert item.completed_by == responder
    assert item.incident.events.filter(kind=EventKind.STEP_DONE, item=item, actor=responder).count() == 1
