"""A page's acknowledgement link, opened and pressed by the person paged (not signed in), shows
on the incident page a responder has open, live."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.accounts.models import User
from apps.contacts.models import ContactRole
from apps.paging.models import Channel, Escalation
from apps.paging.tasks import run_escalation_step
from apps.runbooks.models import Runbook
from tests.browser.conftest import Browsers, LiveServer, assert_not_reloaded, mark_window, wait_until_live
from tests.conftest import smtp_mailers
from tests.factories import ContactFactory, declare_incident
from tests.paging.servers import SmtpServer, ack_link, start_smtp, text_of

pytestmark = pytest.mark.browser
LIVE_MS = 3000


@pytest.fixture
def smtp(settings: Any, asgi_live_server: LiveServer) -> Iterator[SmtpServer]:
    server, controller = start_smtp()
    settings.MAILERS = smtp_mailers(server.port, timeout=2)
    settings.MAIL_TIMEOUT_SECONDS = 2
    settings.SITE_URL = asgi_live_server.url
    yield server
    controller.stop()


def test_the_link_in_a_page_acknowledges_and_the_open_incident_page_shows_it_live(
    browsers: Browsers, procedures: list[Runbook], responder: User, smtp: SmtpServer
) -> None:
    dana = ContactFactory(role=ContactRole.objects.get(name="Database Administrator"), name="Dana Dba")
    Channel.objects.create(contact=dana, kind=Channel.Kind.EMAIL, address="dana@example.com")
    incident = declare_incident(responder, scenario="database_failure", severity="sev1", title="Orders database down")
    escalation = Escalation.objects.get(incident=incident)
    # What the worker does when the first step's message arrives.
    assert run_escalation_step(escalation.active_step_id) == "ran"
    link = ack_link(text_of(smtp.wait_to("dana@example.com")[0]))

    watcher = browsers.signed_in(responder, f"/incidents/{incident.pk}/")
    wait_until_live(watcher)
    mark_window(watcher)
    panel = watcher.locator(".panel-paging")
    expect(panel.get_by_test_id("paging-state")).to_have_text("Escalating")
    expect(panel).to_contain_text("Next: page Technical Lead at")

    paged = browsers.page()
    paged.goto(link)
    expect(paged.get_by_role("heading", name=f"{incident.reference} Orders database down")).to_be_visible()
    paged.get_by_role("button", name="Acknowledge — I'm on it").click()
    expect(paged.get_by_test_id("ack-result")).to_contain_text("Thank you, Dana Dba: acknowledged at")

    expect(panel.get_by_test_id("paging-state")).to_have_text("Acknowledged", timeout=LIVE_MS)
    expect(panel.get_by_test_id("paging-acknowledged")).to_contain_text("Acknowledged by Dana Dba", timeout=LIVE_MS)
    expect(watcher.locator("#incident-timeline")).to_contain_text(
        "Dana Dba acknowledged the page (acknowledgement link): escalation stopped."
    )
    expect(panel.get_by_role("button", name="Escalate now")).to_have_count(0)
    assert_not_reloaded(watcher)

    # The link again: it says who acknowledged and when, and changes nothing.
    paged.goto(link)
    expect(paged.get_by_test_id("ack-result")).to_contain_text("Already acknowledged by Dana Dba at")
