"""What the widgets read: a fixed number of queries however many hosts, a host turning unreachable
when its samples stop, and critical readings pointing at the matching emergency."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import User
from apps.health import live, selectors, services
from apps.health.models import Host, Probe, State
from apps.health.probes import Reading, postgres, system
from apps.health.probes.website import probe as website_probe
from apps.incidents import services as incident_services
from apps.incidents.models import Incident
from tests.factories import declare_incident
from tests.health.conftest import Website, record

pytestmark = pytest.mark.django_db

CLOSED_PORT_DATABASE = "postgres://postgres@127.0.0.1:1/protected"


def _add_hosts_with_history(names: range) -> None:
    """Hosts with three sampling rounds each over every probe; PostgreSQL is down on each."""
    now = timezone.now()
    for n in names:
        host = Host.objects.create(name=f"node-{n}")
        for rounds_ago in (2, 1, 0):
            services.readings_record(
                host=host,
                readings=[
                    Reading(probe, State.CRITICAL if probe == Probe.POSTGRES else State.OK, float(n), "reading")
                    for probe in Probe.values
                ],
                taken_at=now - timedelta(seconds=rounds_ago),
            )


def _queries(read: Any) -> int:
    hosts = list(Host.objects.all())
    with CaptureQueriesContext(connection) as captured:
        read(hosts)
    return len(captured)


READS = {
    "latest_samples": selectors.latest_samples,
    "host_statuses": selectors.host_statuses,
    "widgets": selectors.widgets,
    "critical_signals": lambda hosts: selectors.critical_signals(selectors.host_statuses(hosts)),
    "the board's strip": lambda hosts: live.render_strip(),
    "a host's widgets": lambda hosts: live.render_widgets(hosts[-1]),
}


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_reads_take_the_same_queries_for_one_host_or_ten(read: Any, responder: User) -> None:
    declare_incident(responder, scenario="database_failure")
    _add_hosts_with_history(range(1))
    with_one = _queries(read)
    _add_hosts_with_history(range(1, 10))
    assert Host.objects.count() == 10

    assert _queries(read) == with_one


def test_latest_samples_are_the_newest_of_each_host_and_probe(host: Host, other_host: Host) -> None:
    now = timezone.now()
    record(host, Probe.CPU, State.OK, 10.0, taken_at=now - timedelta(seconds=10))
    newest = record(host, Probe.CPU, State.WARNING, 85.0, taken_at=now - timedelta(seconds=5))
    memory = record(host, Probe.MEMORY, State.OK, 40.0, taken_at=now - timedelta(seconds=10))
    other = record(other_host, Probe.CPU, State.OK, 3.0, taken_at=now - timedelta(seconds=60))

    latest = selectors.latest_samples([host, other_host])

    assert latest == {(host.pk, "cpu"): newest, (host.pk, "memory"): memory, (other_host.pk, "cpu"): other}
    assert selectors.latest_samples([host], probes=["memory"]) == {(host.pk, "memory"): memory}
    assert selectors.latest_samples([]) == {}


def test_a_host_is_unreachable_once_its_newest_sample_is_three_intervals_old(host: Host) -> None:
    interval = settings.HEALTH_SAMPLE_SECONDS
    with time_machine.travel(timezone.now(), tick=False) as clock:
        taken = timezone.now()
        record(host, Probe.CPU, State.OK, 12.0, "12% of 2 cores")

        (fresh,) = selectors.host_statuses([host])
        assert (fresh.reachable, fresh.state, fresh.last_seen) == (True, State.OK, taken)

        clock.move_to(taken + timedelta(seconds=3 * interval))
        (still,) = selectors.host_statuses([host])
        assert still.reachable is True

        clock.move_to(taken + timedelta(seconds=3 * interval + 1))
        (silent,) = selectors.host_statuses([host])
        assert (silent.reachable, silent.state, silent.last_seen) == (False, "unreachable", taken)
        # Its widgets turn grey too.
        assert {w.state for w in selectors.widgets([host], [Probe.CPU])} == {"stale"}

        # A new sample brings it back.
        record(host, Probe.CPU, State.OK, 14.0)
        (back,) = selectors.host_statuses([host])
        assert back.reachable is True


def test_a_host_that_never_reported_has_no_data(host: Host) -> None:
    (status,) = selectors.host_statuses([host])

    assert (status.reachable, status.state, status.last_seen) == (False, "nodata", None)
    assert {w.state for w in selectors.widgets([host])} == {"nodata"}


def test_the_host_state_is_its_worst_probe(host: Host) -> None:
    record(host, Probe.CPU, State.OK, 12.0)
    record(host, Probe.DISK, State.WARNING, 88.0)
    record(host, Probe.SERVICES, State.UNKNOWN)

    (status,) = selectors.host_statuses([host])

    assert status.state == State.WARNING
    assert [s.probe for s in status.headline] == ["cpu", "disk"]


# --- critical signals: real probes, then the banner's scenario --------------------------------


def _signals() -> dict[str, selectors.Signal]:
    return {f"{s.sample.probe}:{s.scenario}": s for s in selectors.critical_signals()}


def test_an_unreachable_postgres_points_at_a_database_failure(host: Host) -> None:
    with override_settings(TARGET_DATABASE_URL=CLOSED_PORT_DATABASE):
        services.readings_record(host=host, readings=[postgres.probe(host)])

    (signal,) = selectors.critical_signals()

    assert signal.scenario == "database_failure"
    assert signal.host == host
    assert signal.sample.summary == "unreachable"
    assert signal.open_incident_id is None


def test_a_website_that_is_down_points_at_a_system_outage(host: Host) -> None:
    host.website_urls = "http://127.0.0.1:1/"
    host.save()
    services.readings_record(host=host, readings=[website_probe(host)])

    assert list(_signals()) == ["website:system_outage"]


def test_changed_website_content_points_at_a_defacement(host: Host, website: Website) -> None:
    host.website_urls = website.url("/")
    host.save()
    services.readings_record(host=host, readings=[website_probe(host)])
    assert selectors.critical_signals() == []

    website.pages["/"] = (200, b"<h1>owned</h1>")
    services.readings_record(host=host, readings=[website_probe(host)])

    assert list(_signals()) == ["website:website_defacement"]


def test_a_full_disk_points_at_a_system_outage(host: Host) -> None:
    # Any use at all counts as full for this host.
    host.thresholds = {"disk": [0, 0.001]}
    host.save()
    services.readings_record(host=host, readings=[system.disks(host)])

    assert list(_signals()) == ["disk:system_outage"]


def test_a_signal_links_the_open_incident_of_its_scenario(host: Host, responder: User) -> None:
    declare_incident(responder, scenario="system_outage", title="Shop is down")
    database_incident = declare_incident(responder, scenario="database_failure", title="Orders DB gone")
    with override_settings(TARGET_DATABASE_URL=CLOSED_PORT_DATABASE):
        services.readings_record(host=host, readings=[postgres.probe(host)])

    (signal,) = selectors.critical_signals()

    assert signal.open_incident_id == database_incident.pk
    assert signal.open_incident_reference == database_incident.reference


def test_a_resolved_incident_is_not_linked(host: Host, responder: User) -> None:
    resolved = declare_incident(responder, scenario="database_failure")
    incident_services.incident_change_status(
        incident_id=resolved.pk, user=responder, from_status=Incident.Status.INVESTIGATING,
        to_status=Incident.Status.RESOLVED,
    )  # fmt: skip
    record(host, Probe.POSTGRES, State.CRITICAL, summary="unreachable")

    (signal,) = selectors.critical_signals()

    assert signal.open_incident_id is None


def test_no_signal_from_an_unreachable_host_or_a_reading_that_is_not_critical(host: Host, other_host: Host) -> None:
    record(host, Probe.POSTGRES, State.WARNING, 250.0, "250 ms")
    record(host, Probe.CPU, State.CRITICAL, 99.0, "99% of 2 cores")  # no emergency of its own
    stale = timezone.now() - timedelta(seconds=3 * settings.HEALTH_SAMPLE_SECONDS + 5)
    record(other_host, Probe.POSTGRES, State.CRITICAL, summary="unreachable", taken_at=stale)

    assert selectors.critical_signals() == []
