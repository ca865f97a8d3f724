"""The public status page and its Atom feed: what a customer sees, without signing in."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.comms.models import Component, ComponentState, PublicIncident
from apps.comms.services.maintenance import maintenance_announce
from apps.incidents.models import Incident
from tests.comms.conftest import post

pytestmark = pytest.mark.django_db
State = ComponentState
NOW = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"


def _page(path: str = "/status/", client: Client | None = None) -> str:
    response = (client or Client()).get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_all_operational(components: dict[str, Component]) -> None:
    response = Client().get("/status/")
    html = response.content.decode()
    assert response["Cache-Control"] == "public, max-age=15"
    assert "All Systems Operational" in html
    for name in components:
        assert name in html
    assert "<script" not in html  # works without JavaScript
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'href="/static/css/status.css"' in html
    assert "app.css" not in html
    assert 'type="application/atom+xml"' in html
    assert html.count("<i></i>") == 90 * len(components)  # 90 operational days each


def test_an_incident_shows_with_its_public_updates_newest_first(
    comms: User, incident: Incident, components: dict[str, Component]
) -> None:
    with time_machine.travel(NOW - timedelta(hours=2), tick=False):
        post(
            comms,
            incident,
            components,
            title="Records cannot be saved",
            body="We are **investigating**.",
            states={"Database": State.MAJOR_OUTAGE},
        )
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        post(
            comms,
            incident,
            components,
            status="identified",
            title="Records cannot be saved",
            body="We found the cause.",
            states={"Database": State.PARTIAL_OUTAGE},
        )
    with time_machine.travel(NOW, tick=False):
        html = _page()
    assert "Major System Outage" in html
    assert "Records cannot be saved" in html
    assert html.index("We found the cause.") < html.index("We are <strong>investigating</strong>.")
    assert "6 May 2026, 10:00 UTC" in html
    assert "6 May 2026, 11:00 UTC" in html
    assert "Database: partial outage" in html
    assert re.search(r'component-state state-partial_outage">Partial outage<', html)
    # Today's square of the database's strip shows the worst state of the day.
    assert 'class="s-major_outage" title="06 May 2026: Major outage"' in html


def test_a_resolved_incident_moves_to_past_incidents(
    comms: User, incident: Incident, components: dict[str, Component]
) -> None:
    post(comms, incident, components, title="Records cannot be saved", states={"Database": State.MAJOR_OUTAGE})
    post(
        comms,
        incident,
        components,
        status="resolved",
        title="Records cannot be saved",
        body="All fixed.",
        states={"Database": State.OPERATIONAL},
    )
    html = _page()
    assert "All Systems Operational" in html
    past = html[html.index('id="past-heading"') :]
    assert "Records cannot be saved" in past
    assert "All fixed." in past
    assert "Current incidents" not in html


def test_the_page_changes_as_soon_as_an_update_is_posted(
    comms: User,
    incident: Incident,
    components: dict[str, Component],
    django_capture_on_commit_callbacks: Callable[..., Any],
    django_assert_num_queries: Callable[..., Any],
) -> None:
    assert "All Systems Operational" in _page()
    with django_assert_num_queries(0):
        _page()  # cached
    with django_capture_on_commit_callbacks(execute=True):
        post(comms, incident, components, title="Records cannot be saved", states={"Database": State.MAJOR_OUTAGE})
    assert "Records cannot be saved" in _page()


def test_scheduled_maintenance_is_announced(comms: User, components: dict[str, Component]) -> None:
    with time_machine.travel(NOW, tick=False):
        maintenance_announce(
            user=comms,
            title="Database upgrade",
            body="The application is read-only during the upgrade.",
            starts_at=NOW + timedelta(days=2),
            ends_at=NOW + timedelta(days=2, hours=2),
            components=[components["Database"], components["Application"]],
        )
        html = _page()
    assert "Scheduled maintenance" in html
    assert "Database upgrade" in html
    assert "8 May 2026, 12:00</time> \u2013 <time" in html
    assert "Under maintenance: Application, Database" in html


def test_times_are_utc_and_the_page_the_same_for_everyone(
    comms: User, incident: Incident, components: dict[str, Component], make_user: Callable[..., User]
) -> None:
    post(comms, incident, components, title="Records cannot be saved")
    reader = make_user(User.Role.MANAGER, username="nairobi", timezone="Africa/Nairobi")
    signed_in = Client()
    signed_in.force_login(reader)
    assert _page(client=signed_in) == _page()
    assert "EAT" not in _page(client=signed_in)


def test_the_public_incident_page(comms: User, incident: Incident, components: dict[str, Component]) -> None:
    post(
        comms,
        incident,
        components,
        title="Records cannot be saved",
        body="Looking into it.",
        states={"Database": State.DEGRADED_PERFORMANCE},
    )
    public = PublicIncident.objects.get()
    html = _page(reverse("comms:public_incident", args=[public.code]))
    assert "<h1>Records cannot be saved</h1>" in html
    assert "Looking into it." in html
    assert "Affected: Database" in html
    assert Client().get(reverse("comms:public_incident", args=["nosuchcode12"])).status_code == 404
    assert Client().get("/status/incidents/../../admin/").status_code == 404


def test_the_atom_feed_lists_public_updates_and_maintenance(
    comms: User, incident: Incident, components: dict[str, Component]
) -> None:
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        post(
            comms,
            incident,
            components,
            title="Records cannot be saved",
            body="Looking **into** it.",
            states={"Database": State.MAJOR_OUTAGE},
        )
    with time_machine.travel(NOW, tick=False):
        maintenance_announce(
            user=comms,
            title="Mail upgrade",
            body="Short.",
            starts_at=NOW + timedelta(days=1),
            ends_at=NOW + timedelta(days=1, hours=1),
            components=[components["Email"]],
        )
        post(comms, incident, components, audience="internal", title="", body="internal only")
    response = Client().get(reverse("comms:feed"))
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(response.content)  # noqa: S314 - our own feed, not untrusted input
    entries = root.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert titles == ["Scheduled maintenance: Mail upgrade", "Records cannot be saved: Investigating"]
    content = entries[1].findtext(f"{ATOM}summary") or ""
    assert "<strong>into</strong>" in content
    assert "Database: major outage" in content
    assert b"internal only" not in response.content


def test_clients_that_accept_gzip_get_the_compressed_copy(components: dict[str, Component]) -> None:
    import gzip

    plain = Client().get("/status/")
    packed = Client().get("/status/", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) < len(plain.content) / 3
    assert packed["Vary"] == plain["Vary"]
    assert "Accept-Encoding" in plain["Vary"]


@pytest.mark.redis
def test_through_redis_other_processes_see_a_change_within_a_second(
    comms: User,
    incident: Incident,
    components: dict[str, Component],
    settings: Any,
    django_assert_num_queries: Callable[..., Any],
) -> None:
    import time

    from django.core.cache import cache

    from apps.comms import publiccache

    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert "All Systems Operational" in _page()

    # Another process, its memory empty, finds the page in Redis: no query.
    publiccache._local.clear()
    publiccache._known = ("", 0.0)
    with django_assert_num_queries(0):
        assert "All Systems Operational" in _page()

    # An update posted by another process: its commit moved the generation in Redis.
    post(comms, incident, components, title="Records cannot be saved")  # its own invalidation never commits here
    cache.set(publiccache.GENERATION_KEY, "set-by-another-process", timeout=None)
    deadline = time.monotonic() + 3 * publiccache.GENERATION_CHECK_SECONDS
    while "Records cannot be saved" not in _page():
        assert time.monotonic() < deadline, "the change did not reach this process"
        time.sleep(0.05)


def test_monitors_may_ask_with_head(components: dict[str, Component]) -> None:
    for path in ("/status/", "/api/v2/status.json", "/status/feed.atom"):
        response = Client().head(path)
        assert response.status_code == 200, path
    assert Client().post("/status/").status_code == 405
