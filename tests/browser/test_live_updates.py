"""Changes reach every open page without a reload: the incident page of another responder and
the board."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.accounts.models import User
from apps.incidents.models import Incident
from apps.runbooks.models import Runbook
from tests.browser.conftest import (
    Browsers,
    LiveServer,
    assert_not_reloaded,
    declare_through_form,
    mark_window,
    outside_event_loop,
    wait_until_live,
)

pytestmark = pytest.mark.browser

TITLE = "Orders database is down"
# What "live" means here: another person's change shows within this many milliseconds.
LIVE_MS = 2000


def test_a_tick_and_a_status_change_reach_other_pages_without_a_reload(
    browsers: Browsers, procedures: list[Runbook], responder: User, second_responder: User, manager: User
) -> None:
    board = browsers.signed_in(manager)
    wait_until_live(board)
    mark_window(board)
    expect(board.locator("#board")).to_contain_text("No active incidents.")

    first = browsers.signed_in(responder)
    declare_through_form(first, TITLE)
    incident = Incident.objects.get()
    row = board.locator(f'#board tr[data-incident="{incident.pk}"]')
    expect(row).to_contain_text(f"{incident.reference} {TITLE}", timeout=LIVE_MS)
    expect(row.locator(".status")).to_have_text("Investigating")

    second = browsers.signed_in(second_responder, f"/incidents/{incident.pk}/")
    wait_until_live(second)
    mark_window(second)
    watched_step = second.locator('li[data-step="Check database logs"]')
    expect(watched_step).to_have_class(re.compile(r"\bstate-pending\b"))

    first.locator('li[data-step="Check database logs"]').get_by_role("button", name="Mark done").click()

    expect(watched_step).to_have_class(re.compile(r"\bstate-done\b"), timeout=LIVE_MS)
    expect(watched_step.locator(".step-done")).to_contain_text(f"Done by {responder.display_name}", timeout=LIVE_MS)
    # Re-rendered for the watcher: a responder, so they may reopen it.
    expect(watched_step.get_by_role("button", name="Reopen")).to_be_visible()
    expect(second.locator("#incident-timeline")).to_contain_text("Done: Check database logs")

    first.locator("#incident-header").get_by_role("button", name="Mitigating").click()

    expect(second.get_by_test_id("incident-status")).to_have_text("Mitigating", timeout=LIVE_MS)
    expect(row.locator(".status")).to_have_text("Mitigating", timeout=LIVE_MS)
    expect(second.locator("#incident-timeline")).to_contain_text("Status: Investigating → Mitigating")
    # The watcher's status buttons follow the new status: no "Mitigating" button any more.
    expect(second.locator("#incident-header").get_by_role("button", name="Investigating")).to_be_visible()
    expect(second.locator("#incident-header").get_by_role("button", name="Mitigating")).to_have_count(0)
    expect(row).to_contain_text(f"1/{incident.checklist.count()}")

    assert_not_reloaded(second)
    assert_not_reloaded(board)
    expect(first.get_by_test_id("incident-status")).to_have_text("Mitigating")
    expect(second.locator("[data-live-status]")).to_have_attribute("data-state", "live")


def test_the_live_indicator_says_live_and_then_paused_when_the_server_goes(
    browsers: Browsers, asgi_live_server: LiveServer, manager: User
) -> None:
    page = browsers.signed_in(manager)
    status = page.locator("[data-live-status]")
    expect(status).to_have_attribute("data-state", "live")
    expect(status).to_have_text("Live")

    asgi_live_server.stop()

    expect(status).to_have_attribute("data-state", "paused")
    expect(status).to_contain_text("Live updates paused")


def test_a_page_holds_one_socket_for_all_of_its_live_parts(browsers: Browsers, manager: User) -> None:
    from apps.health import live, services
    from apps.health.models import Host, Probe, State
    from apps.health.probes import Reading

    host = Host.objects.create(name="web-1")
    board = browsers.signed_in(manager)
    wait_until_live(board)
    # Counted from a fresh load, once the first load's socket is open.
    sockets: list[str] = []
    board.on("websocket", lambda socket: sockets.append(socket.url))
    board.reload()
    wait_until_live(board)
    mark_window(board)

    # The incidents, the remediation section and the health strip share the page's one socket.
    assert len(sockets) == 1
    assert sockets[0].endswith("/ws/live/?topic=board&topic=runs&topic=health%3Astrip")

    def sample() -> None:
        services.readings_record(host=host, readings=[Reading(Probe.CPU, State.CRITICAL, 99.0, "99% of 2 cores")])
        live.publish_host(host)

    outside_event_loop(sample)

    expect(board.locator('#health-strip [data-host="web-1"]')).to_contain_text("critical", timeout=LIVE_MS)
    assert len(sockets) == 1
    assert_not_reloaded(board)
