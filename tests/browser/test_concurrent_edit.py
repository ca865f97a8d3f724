"""Two responders edit the same incident's details at once: the later save is refused, clearly,
and the earlier one stands."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from apps.accounts.models import User
from apps.incidents.models import EventKind
from apps.runbooks.models import Runbook
from tests.browser.conftest import Browsers, outside_event_loop, wait_until_live
from tests.factories import declare_incident

pytestmark = pytest.mark.browser

ORIGINAL = "Database slow"
FIRST = "Database slow: disk full on db-1"
SECOND = "Database slow: runaway query"


def _open_details(page: Page) -> None:
    page.get_by_text("Edit details and roles").click()
    expect(page.locator("#incident-details-form").get_by_label("Title")).to_have_value(ORIGINAL)


def test_the_second_of_two_concurrent_title_edits_gets_a_conflict(
    browsers: Browsers, procedures: list[Runbook], responder: User, second_responder: User
) -> None:
    incident = outside_event_loop(declare_incident, user=responder, title=ORIGINAL)
    first = browsers.signed_in(responder, f"/incidents/{incident.pk}/")
    second = browsers.signed_in(second_responder, f"/incidents/{incident.pk}/")
    wait_until_live(second)
    _open_details(first)
    _open_details(second)
    first.locator("#incident-details-form").get_by_label("Title").fill(FIRST)
    second.locator("#incident-details-form").get_by_label("Title").fill(SECOND)

    first.get_by_role("button", name="Save details").click()
    expect(first.get_by_role("status")).to_have_text("Saved.")
    expect(first.locator("#incident-header h1")).to_contain_text(FIRST)
    # The second responder's page shows the new title live, while their form keeps their text.
    expect(second.locator("#incident-header h1")).to_contain_text(FIRST)
    expect(second.locator("#incident-details-form").get_by_label("Title")).to_have_value(SECOND)

    second.get_by_role("button", name="Save details").click()

    alert = second.locator("#messages").get_by_role("alert")
    expect(alert).to_contain_text("Someone else changed title while you were editing. Nothing was saved")
    expect(second.locator("#incident-header h1")).to_contain_text(FIRST)
    incident.refresh_from_db()
    assert incident.title == FIRST
    titles = incident.events.filter(kind=EventKind.DETAILS_CHANGED, data__field="title")
    assert [(e.actor, e.data["value"]) for e in titles] == [(responder, FIRST)]
    expect(first.locator("#incident-header h1")).to_contain_text(FIRST)
