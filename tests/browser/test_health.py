"""Live health widgets in a real browser: a new sample changes a widget's value and age without a
reload, a widget whose samples stop turns grey, and the page says so when its socket drops."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.accounts.models import User
from apps.health import live, services
from apps.health.models import Host, Probe, State
from apps.health.probes import Reading
from tests.browser.conftest import (
    Browsers,
    LiveServer,
    assert_not_reloaded,
    mark_window,
    outside_event_loop,
    wait_until_live,
)

pytestmark = pytest.mark.browser

# What "live" means here: a sample shows within this many milliseconds of being published.
LIVE_MS = 2000
HOST_PAGE = "/health/hosts/web-1/"


def _record_and_publish(*, host: Host, reading: Reading) -> None:
    """What the host's worker does after each sampling round."""
    services.readings_record(host=host, readings=[reading])
    live.publish_host(host)


def _cpu(percent: float, state: str = State.OK) -> Reading:
    return Reading(Probe.CPU, state, percent, f"{percent:.0f}% of 2 cores", {"per_core": [percent, percent]})


def _host_page(browsers: Browsers, user: User) -> Page:
    page = browsers.signed_in(user, HOST_PAGE)
    wait_until_live(page)
    mark_window(page)
    return page


def test_a_new_sample_changes_the_widgets_value_and_age_without_a_reload(
    browsers: Browsers, responder: User, settings: Any
) -> None:
    settings.HEALTH_SAMPLE_SECONDS = 60  # nothing turns stale during this test
    host = Host.objects.create(name="web-1")
    services.readings_record(host=host, readings=[_cpu(12)], taken_at=timezone.now() - timedelta(seconds=100))
    page = _host_page(browsers, responder)
    widget = page.locator("#widget-web-1-cpu")
    age = widget.locator("[data-age-seconds]")
    expect(widget.get_by_test_id("widget-value")).to_have_text("12% of 2 cores")
    expect(age).to_have_text(re.compile(r"^\d+ min ago$"))
    expect(widget).to_have_class(re.compile(r"\bstate-ok\b"))

    outside_event_loop(_record_and_publish, host=host, reading=_cpu(87, State.WARNING))

    expect(widget.get_by_test_id("widget-value")).to_have_text("87% of 2 cores", timeout=LIVE_MS)
    expect(widget).to_have_class(re.compile(r"\bstate-warning\b"))
    expect(widget.locator("[data-widget-state]")).to_have_text("Warning")
    expect(age).to_have_text(re.compile(r"^[0-2] s ago$"), timeout=LIVE_MS)
    # The age keeps counting between samples.
    just_now = age.inner_text()
    expect(age).not_to_have_text(just_now, timeout=3000)
    expect(age).to_have_text(re.compile(r"^\d s ago$"))
    # Only the widget of that probe changed.
    expect(page.locator("#widget-web-1-memory")).to_contain_text("Waiting for the first sample from web-1.")
    assert_not_reloaded(page)


def test_a_widget_turns_grey_when_no_sample_arrives_for_three_intervals(
    browsers: Browsers, responder: User, settings: Any
) -> None:
    settings.HEALTH_SAMPLE_SECONDS = 1  # stale after 3 s
    host = Host.objects.create(name="web-1")
    page = _host_page(browsers, responder)
    widget = page.locator("#widget-web-1-cpu")
    expect(widget).to_have_class(re.compile(r"\bstate-nodata\b"))

    outside_event_loop(_record_and_publish, host=host, reading=_cpu(40))

    expect(widget).to_have_class(re.compile(r"\bstate-ok\b"), timeout=LIVE_MS)
    expect(widget).not_to_have_class(re.compile(r"\bstate-stale\b"))
    expect(widget.locator("[data-stale-since]")).to_have_text("")

    # Nothing more arrives: the page itself judges the data too old.
    expect(widget).to_have_class(re.compile(r"\bstate-stale\b"), timeout=6000)
    expect(widget.locator("[data-widget-state]")).to_have_text("no fresh data")
    expect(widget.locator("[data-stale-since]")).to_contain_text("no data since")
    expect(widget.get_by_test_id("widget-value")).to_have_text("40% of 2 cores")

    # A fresh sample brings the colour back.
    outside_event_loop(_record_and_publish, host=host, reading=_cpu(41))
    expect(widget).not_to_have_class(re.compile(r"\bstate-stale\b"), timeout=LIVE_MS)
    expect(widget.locator("[data-widget-state]")).to_have_text("OK")
    assert_not_reloaded(page)


def test_the_host_page_says_live_updates_are_paused_when_the_socket_drops(
    browsers: Browsers, asgi_live_server: LiveServer, responder: User
) -> None:
    host = Host.objects.create(name="web-1")
    services.readings_record(host=host, readings=[_cpu(12)])
    page = _host_page(browsers, responder)
    status = page.locator("[data-live-status]")
    expect(status).to_have_text("Live")

    asgi_live_server.stop()

    expect(status).to_have_attribute("data-state", "paused")
    expect(status).to_contain_text("Live updates paused")
    # What was shown stays on the page.
    expect(page.locator("#widget-web-1-cpu").get_by_test_id("widget-value")).to_have_text("12% of 2 cores")
