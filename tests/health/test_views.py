"""The health pages, the board's host strip and signal banner, attaching a signal, and on-demand
security snapshots: who may do what, and what each person sees."""

from __future__ import annotations

import html
import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.health.models import Host, Probe, Sample, SecuritySnapshot, State
from apps.incidents import services as incident_services
from apps.incidents.models import EventKind, Incident
from tests.factories import declare_incident
from tests.health.conftest import record

pytestmark = pytest.mark.django_db

EVERY_ROLE = ["responder_client", "manager_client", "comms_client", "admin_client_"]
WATCHERS = ["manager_client", "comms_client"]


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _banners(page: str) -> list[str]:
    return re.findall(r'<div class="signal-banner".*?</div>', page, re.S)


def _widget_order(page: str, host: str) -> list[str]:
    return re.findall(rf'id="widget-{host}-(\w+)"', page)


@pytest.fixture
def sampled_host(host: Host) -> Host:
    """web-1 with one reading of every probe."""
    for probe in Probe.values:
        record(host, probe, State.OK, 42.0, f"{probe} is fine")
    return host


@pytest.fixture
def database_down(host: Host) -> Sample:
    return record(
        host, Probe.POSTGRES, State.CRITICAL, summary="unreachable", error="connection refused",
        data={"reachable": False},
    )  # fmt: skip


# --- pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize("client_name", EVERY_ROLE)
def test_every_role_sees_the_overview_and_a_host_page(
    client_name: str, request: pytest.FixtureRequest, sampled_host: Host
) -> None:
    client: Client = request.getfixturevalue(client_name)

    overview = _page(client, reverse("health:overview"))
    detail = _page(client, reverse("health:host", args=["web-1"]))

    assert 'id="widget-web-1-cpu"' in overview
    assert "cpu is fine" in overview
    assert _widget_order(detail, "web-1") == Probe.values
    assert "postgres is fine" in detail
    assert 'data-live-topic="health:widgets:web-1"' in detail


def test_the_host_page_offers_snapshots_only_to_those_who_may_take_them(
    sampled_host: Host, responder_client: Client, manager_client: Client
) -> None:
    url = reverse("health:host", args=["web-1"])
    take = reverse("health:snapshot", args=["web-1", "ports"])

    assert take in _page(responder_client, url)
    assert take not in _page(manager_client, url)


def test_anonymous_visitors_are_sent_to_sign_in(sampled_host: Host) -> None:
    for url in (reverse("health:overview"), reverse("health:host", args=["web-1"])):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_an_unknown_host_is_not_found(responder_client: Client) -> None:
    assert responder_client.get(reverse("health:host", args=["nowhere"])).status_code == 404


def test_a_host_page_without_samples_says_it_is_waiting(host: Host, manager_client: Client) -> None:
    page = _page(manager_client, reverse("health:host", args=["web-1"]))

    assert "Waiting for the first sample from web-1." in page


def test_the_overview_without_hosts_explains_how_to_add_one(manager_client: Client) -> None:
    assert "No hosts are registered." in _page(manager_client, reverse("health:overview"))


def test_the_chart_windows_draw_from_raw_samples_and_minutes(sampled_host: Host, manager_client: Client) -> None:
    record(sampled_host, Probe.CPU, State.OK, 60.0, taken_at=timezone.now() - timedelta(minutes=10))

    hour = _page(manager_client, reverse("health:host", args=["web-1"]) + "?window=1h")
    week = _page(manager_client, reverse("health:host", args=["web-1"]) + "?window=7d")

    assert 'aria-label="cpu over 1h"' in hour
    assert "cpu · 1h · 42.0 \N{EN DASH} 60.0" in hour
    assert "Not enough data for 7d yet." in week


# --- the board: host strip and signal banner --------------------------------------------------


def test_the_board_shows_the_host_strip(sampled_host: Host, manager_client: Client) -> None:
    page = _page(manager_client, reverse("incidents:board"))

    assert 'id="health-strip"' in page
    assert 'data-host="web-1"' in page
    assert "CPU 42%" in page
    assert _banners(page) == []


def test_a_critical_signal_offers_to_declare_its_incident(database_down: Sample, responder_client: Client) -> None:
    page = _page(responder_client, reverse("incidents:board"))

    (banner,) = _banners(page)
    assert "PostgreSQL critical on web-1" in banner
    assert "unreachable" in banner
    declare = re.search(r'href="([^"]+)"[^>]*>Declare incident<', banner)
    assert declare is not None
    link = html.unescape(declare.group(1))
    assert link.startswith(reverse("incidents:declare") + "?scenario=database_failure&")

    form = _page(responder_client, link)
    assert re.search(r'<input[^>]*value="database_failure"[^>]*checked', form)
    assert re.search(r'<input[^>]*name="title"[^>]*value="PostgreSQL critical on web-1"', form)


def test_the_signal_buttons_are_only_for_roles_that_may_use_them(
    database_down: Sample, responder_client: Client, manager_client: Client
) -> None:
    # The banner is rendered once for every viewer (workers push it too); the page says whether
    # this viewer may act, and the buttons are hidden otherwise.
    assert "data-can-work" in _page(responder_client, reverse("incidents:board"))
    assert "data-can-work" not in _page(manager_client, reverse("incidents:board"))
    (banner,) = _banners(_page(manager_client, reverse("incidents:board")))
    assert re.search(r'class="[^"]*needs-work-role[^"]*"[^>]*>Declare incident<', banner)


def test_attaching_from_a_pushed_banner_sends_the_browser_to_the_incident(
    database_down: Sample, responder: User, responder_client: Client
) -> None:
    incident = declare_incident(responder, scenario="database_failure")

    response = responder_client.post(
        reverse("health:signal_attach"),
        {"sample": database_down.pk, "incident": incident.pk},
        headers={"HX-Request": "true"},
    )

    assert response["HX-Redirect"] == reverse("incidents:detail", args=[incident.pk])
    assert incident.events.filter(kind=EventKind.SIGNAL_ATTACHED, host=database_down.host).count() == 1


def test_a_critical_signal_offers_to_attach_to_the_open_incident(
    database_down: Sample, responder: User, responder_client: Client
) -> None:
    incident = declare_incident(responder, scenario="database_failure")

    (banner,) = _banners(_page(responder_client, reverse("incidents:board")))

    assert f"Attach to {incident.reference}" in banner
    assert "Declare incident" not in banner


def test_attaching_a_signal_puts_it_on_the_incident_timeline(
    database_down: Sample, responder: User, responder_client: Client
) -> None:
    incident = declare_incident(responder, scenario="database_failure")

    response = responder_client.post(
        reverse("health:signal_attach"), {"sample": database_down.pk, "incident": incident.pk}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
    event = incident.events.get(kind=EventKind.SIGNAL_ATTACHED)
    assert (event.actor, event.host) == (responder, database_down.host)
    # The sample itself is pruned after a day: the event keeps its values.
    assert event.data == {
        "probe": "postgres",
        "state": "critical",
        "value": database_down.value,
        "summary": "unreachable",
        "taken_at": database_down.taken_at.isoformat(),
    }
    page = _page(responder_client, response["Location"])
    assert "Signal attached: PostgreSQL critical on web-1" in page
    assert f"Signal attached to {incident.reference}." in page


def test_a_signal_cannot_be_attached_to_a_resolved_incident(
    database_down: Sample, responder: User, responder_client: Client
) -> None:
    incident = declare_incident(responder, scenario="database_failure")
    incident_services.incident_change_status(
        incident_id=incident.pk, user=responder, from_status=Incident.Status.INVESTIGATING,
        to_status=Incident.Status.RESOLVED,
    )  # fmt: skip

    response = responder_client.post(
        reverse("health:signal_attach"), {"sample": database_down.pk, "incident": incident.pk}, follow=True
    )

    assert f"{incident.reference} is no longer active" in response.content.decode()
    assert not incident.events.filter(kind=EventKind.SIGNAL_ATTACHED).exists()


def test_a_garbled_attach_goes_back_to_the_board_with_a_message(responder_client: Client) -> None:
    response = responder_client.post(reverse("health:signal_attach"), {"sample": "x"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("incidents:board")
    assert "That signal could not be attached" in response.content.decode()


@pytest.mark.parametrize("client_name", WATCHERS)
def test_watchers_cannot_attach_signals_or_ask_for_snapshots(
    client_name: str, request: pytest.FixtureRequest, database_down: Sample, responder: User
) -> None:
    client: Client = request.getfixturevalue(client_name)
    incident = declare_incident(responder, scenario="database_failure")
    events_before = incident.events.count()

    attach = client.post(reverse("health:signal_attach"), {"sample": database_down.pk, "incident": incident.pk})
    snapshot = client.post(reverse("health:snapshot", args=["web-1", "ports"]))

    assert (attach.status_code, snapshot.status_code) == (403, 403)
    assert incident.events.count() == events_before
    assert not SecuritySnapshot.objects.exists()


def test_an_unknown_snapshot_kind_is_not_found(host: Host, responder_client: Client) -> None:
    response = responder_client.post(reverse("health:snapshot", args=["web-1", "passwords"]))

    assert response.status_code == 404
    assert not SecuritySnapshot.objects.exists()


def test_a_snapshot_of_an_unknown_host_is_not_found(responder_client: Client) -> None:
    assert responder_client.post(reverse("health:snapshot", args=["nowhere", "ports"])).status_code == 404


def test_snapshots_cannot_be_asked_for_with_get(host: Host, responder_client: Client) -> None:
    assert responder_client.get(reverse("health:snapshot", args=["web-1", "ports"])).status_code == 405


# --- snapshots, taken by the embedded runner (make run without Redis) ---------------------------


def _wait_taken(kind: str, seconds: float = 15) -> SecuritySnapshot:
    deadline = time.monotonic() + seconds
    while True:
        snapshot = SecuritySnapshot.objects.get(kind=kind)
        if snapshot.status in (SecuritySnapshot.Status.DONE, SecuritySnapshot.Status.FAILED):
            return snapshot
        assert time.monotonic() < deadline, f"the {kind} snapshot is still {snapshot.status}"
        time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_requested_snapshot_is_taken_and_shown_on_the_host_page(
    host: Host, responder: User, responder_client: Client, tmp_path: Path
) -> None:
    fresh = tmp_path / "app" / "views.py"
    fresh.parent.mkdir()
    fresh.write_text("print('changed today')")
    old = tmp_path / "app" / "settings.py"
    old.write_text("DEBUG = False")
    three_days_ago = time.time() - 3 * 86400
    os.utime(old, (three_days_ago, three_days_ago))
    host.app_dir = str(tmp_path / "app")
    host.save()

    # Embedded mode (tests never start its beat): only what this test asks for runs in the background.
    with override_settings(JOBS_IN_PROCESS=True, WORKER_SERVES_EVERY_HOST=True):
        for kind in SecuritySnapshot.Kind.values:
            response = responder_client.post(reverse("health:snapshot", args=["web-1", kind]), follow=True)
            assert response.status_code == 200
            assert "Asked web-1&#x27;s worker for" in response.content.decode()
        ports, logins, files = (_wait_taken(kind) for kind in ("ports", "logins", "modified_files"))

    assert {s.requested_by for s in (ports, logins, files)} == {responder}
    assert all(s.status == SecuritySnapshot.Status.DONE and s.taken_at for s in (ports, logins, files))
    # PostgreSQL listens on this machine, like `ss -tlnp` would show.
    assert any(p["port"] == 5432 and p["proto"] == "tcp" for p in ports.data["ports"])
    assert isinstance(logins.data["users"], list)
    assert "recent" in logins.data
    assert [f["path"] for f in files.data["files"]] == [str(fresh)]

    page = _page(responder_client, reverse("health:host", args=["web-1"]))
    assert "<td>5432</td>" in page
    assert str(fresh) in page
    assert str(old) not in page
    assert "Files modified in the last 24 hours: done" in page


# --- the incident page ------------------------------------------------------------------------


def test_a_database_failure_shows_the_postgresql_widget_first(
    sampled_host: Host, responder: User, manager_client: Client
) -> None:
    incident = declare_incident(responder, scenario="database_failure")

    page = _page(manager_client, reverse("incidents:detail", args=[incident.pk]))

    assert _widget_order(page, "web-1") == ["postgres", "disk", "memory", "cpu", "services", "backups"]
    assert "Health <small>for Database Failure</small>" in page


def test_a_website_defacement_shows_the_website_first(
    sampled_host: Host, responder: User, manager_client: Client
) -> None:
    incident = declare_incident(responder, scenario="website_defacement", title="Wrong logo on the shop")

    page = _page(manager_client, reverse("incidents:detail", args=[incident.pk]))

    assert _widget_order(page, "web-1")[0] == "website"
