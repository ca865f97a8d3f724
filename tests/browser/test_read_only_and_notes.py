"""What a manager (read-only) sees and may do, and how notes that users write are shown."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from apps.accounts.models import User
from apps.incidents.models import ChecklistItem, EventKind, Incident
from apps.runbooks.models import Runbook
from tests.browser.conftest import Browsers, mark_window, outside_event_loop, wait_until_live
from tests.factories import declare_incident

pytestmark = pytest.mark.browser

LIVE_MS = 2000
XSS_NOTE = "<script>window.__xss=1</script><b>bold</b>"


@pytest.fixture
def incident(procedures: list[Runbook], responder: User) -> Incident:
    return outside_event_loop(declare_incident, user=responder, title="Replica lagging hours behind")


def _csrf_token(page: Page) -> str:
    return next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")


def test_a_manager_sees_the_incident_without_any_controls(
    browsers: Browsers, incident: Incident, manager: User
) -> None:
    page = browsers.signed_in(manager, f"/incidents/{incident.pk}/")

    expect(page.locator("#incident-header h1")).to_contain_text(incident.title)
    expect(page.locator("#incident-checklist li.step")).to_have_count(incident.checklist.count())
    expect(page.get_by_role("button", name="Mark done")).to_have_count(0)
    expect(page.get_by_role("button", name="Reopen")).to_have_count(0)
    expect(page.get_by_role("group", name="Change status")).to_have_count(0)
    expect(page.get_by_role("button", name="Mitigating")).to_have_count(0)
    expect(page.locator("#note-form")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Note", exact=True)).to_have_count(0)
    expect(page.get_by_text("Edit details and roles")).to_have_count(0)
    expect(page.get_by_role("link", name="Declare incident")).to_have_count(0)


def test_a_manager_posting_directly_is_refused(
    browsers: Browsers, live_url: str, incident: Incident, manager: User
) -> None:
    page = browsers.signed_in(manager, f"/incidents/{incident.pk}/")
    item = incident.checklist.order_by("position").first()
    assert item is not None
    headers = {"X-CSRFToken": _csrf_token(page)}
    base = f"{live_url}/incidents/{incident.pk}"

    posts = {
        f"{base}/checklist/{item.pk}/done/": {"from_state": "pending"},
        f"{base}/status/": {"from_status": "investigating", "to_status": "mitigating"},
        f"{base}/notes/": {"body": "managers cannot write here"},
    }
    for url, form in posts.items():
        response = page.request.post(url, form=form, headers=headers)
        assert response.status == 403, url
        # Refused for the role, not for a bad CSRF token.
        assert "Your role does not allow this" in response.text(), url

    item.refresh_from_db()
    incident.refresh_from_db()
    assert item.state == ChecklistItem.State.PENDING
    assert incident.status == Incident.Status.INVESTIGATING
    assert not incident.events.filter(kind=EventKind.NOTE_ADDED).exists()


def test_a_managers_page_updates_live_and_stays_read_only(
    browsers: Browsers, incident: Incident, responder: User, manager: User
) -> None:
    watcher = browsers.signed_in(manager, f"/incidents/{incident.pk}/")
    wait_until_live(watcher)
    mark_window(watcher)
    worker = browsers.signed_in(responder, f"/incidents/{incident.pk}/")

    worker.locator('li[data-step="Check database logs"]').get_by_role("button", name="Mark done").click()

    step = watcher.locator('li[data-step="Check database logs"]')
    expect(step).to_have_class(re.compile(r"\bstate-done\b"), timeout=LIVE_MS)
    expect(watcher.get_by_role("button", name="Reopen")).to_have_count(0)
    expect(watcher.get_by_role("button", name="Mark done")).to_have_count(0)
    expect(watcher.get_by_role("group", name="Change status")).to_have_count(0)
    assert watcher.evaluate("window.__notReloaded") is True


def test_a_note_with_html_is_shown_as_text_never_run(
    browsers: Browsers, incident: Incident, responder: User, second_responder: User
) -> None:
    watcher = browsers.signed_in(second_responder, f"/incidents/{incident.pk}/")
    wait_until_live(watcher)
    writer = browsers.signed_in(responder, f"/incidents/{incident.pk}/")

    writer.get_by_role("textbox", name="Note", exact=True).fill(XSS_NOTE)
    writer.get_by_role("button", name="Add note").click()

    for page in (writer, watcher):  # the writer's htmx response and the watcher's live push
        timeline = page.locator("#incident-timeline")
        note = timeline.locator('[data-event-kind="note_added"] .note-body')
        expect(note).to_have_text("bold", timeout=LIVE_MS)
        expect(timeline.locator("script")).to_have_count(0)
        expect(timeline.locator("b")).to_have_count(0)
        assert page.evaluate("typeof window.__xss") == "undefined"
    expect(writer.get_by_role("textbox", name="Note", exact=True)).to_have_value("")
    # Stored as written: the record keeps exactly what the responder typed.
    assert incident.events.get(kind=EventKind.NOTE_ADDED, actor=responder).body == XSS_NOTE
