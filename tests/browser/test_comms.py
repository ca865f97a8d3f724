"""Stakeholder communications in a real browser: the coordinator writes and posts a public update
from the incident page, and a customer, not signed in, sees it on the status page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from apps.accounts.models import User
from apps.comms import publiccache
from apps.comms.services.components import components_load
from apps.incidents.models import Severity
from tests.browser.conftest import Browsers, wait_until_live
from tests.factories import declare_incident

pytestmark = pytest.mark.browser

DRAFT = "We are investigating failing saves. Next update within 30 minutes."


@pytest.fixture(autouse=True)
def _fresh_public_cache() -> None:
    # The database is new for each test, a shared (Redis) cache is not: start a new generation.
    publiccache.invalidate_now()


def test_the_coordinator_posts_a_public_update_that_a_customer_sees(
    browsers: Browsers, responder: User, make_user: Callable[..., User]
) -> None:
    components_load()
    coordinator = make_user(User.Role.RESPONDER, username="cora", first_name="Cora", last_name="Coordinator")
    incident = declare_incident(
        responder,
        severity=Severity.SEV1,
        title="Primary database db-prod-7 refuses connections",
        coordinator=coordinator,
        affected_components="Database",
    )
    page = browsers.signed_in(coordinator, f"/incidents/{incident.pk}/")
    wait_until_live(page)
    panel = page.locator("#comms")

    # Start from the public "Investigating" template: filled from the incident.
    panel.locator(".compose-templates p", has_text="Public:").get_by_role("link", name="Investigating").click()
    expect(page.get_by_label("Public: status page and subscribers")).to_be_checked()
    expect(page.get_by_label("Public name of the incident")).to_have_value("Slow or failing requests")
    expect(page.get_by_label("Database", exact=True)).to_have_value("major_outage")
    page.get_by_label("Public name of the incident").fill("Records cannot be saved")
    body = page.get_by_role("textbox", name="Update", exact=True)
    body.fill(DRAFT)

    # A responder's note refreshes the page live; the draft being written stays as it is.
    writer = browsers.signed_in(responder, f"/incidents/{incident.pk}/")
    writer.get_by_role("textbox", name="Note", exact=True).fill("Replica promoted")
    writer.get_by_role("button", name="Add note").click()
    expect(page.locator("#incident-timeline")).to_contain_text("Replica promoted")
    expect(body).to_have_value(DRAFT)
    expect(page.get_by_label("Public name of the incident")).to_have_value("Records cannot be saved")

    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#comms-preview")).to_contain_text("as the status page and the subscribers' mail will show it")
    expect(page.locator("#comms-preview")).to_contain_text(DRAFT)

    page.get_by_role("button", name="Post update").click()
    expect(page.locator("#messages")).to_contain_text("Public update posted on the status page")
    expect(page.locator("#comms-updates")).to_contain_text(DRAFT)
    expect(page.locator("#incident-timeline")).to_contain_text("Public update posted: Investigating")
    expect(page.get_by_role("textbox", name="Update", exact=True)).not_to_have_value(DRAFT)  # a fresh composer

    # A customer in another browser, not signed in.
    customer = browsers.page()
    customer.goto("/status/")
    expect(customer.get_by_role("heading", name="Major System Outage")).to_be_visible()
    incidents = customer.locator(".incidents")
    expect(incidents).to_contain_text("Records cannot be saved")
    expect(incidents).to_contain_text(DRAFT)
    expect(customer.locator(".component", has_text="Database")).to_contain_text("Major outage")
    expect(customer.locator("body")).not_to_contain_text("db-prod-7")
    expect(customer.locator("body")).not_to_contain_text("Coordinator")
