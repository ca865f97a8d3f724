"""History with a bound: raw samples fold into per-minute aggregates, raw rows go after 24 hours,
aggregates after 30 days, so the tables stay the same size over weeks of running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apps.health import services
from apps.health.models import Host, MinuteAggregate, Probe, Sample, State
from tests.health.conftest import record

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _aggregates() -> dict[tuple[str, str, datetime], tuple[int, float | None, float | None, float | None, str]]:
    return {
        (a.host.name, a.probe, a.minute): (a.count, a.value_avg, a.value_min, a.value_max, a.worst_state)
        for a in MinuteAggregate.objects.select_related("host")
    }


def test_fold_builds_one_aggregate_per_host_probe_and_minute(host: Host, other_host: Host) -> None:
    readings = [
        (host, Probe.CPU, 5, State.OK, 10.0),
        (host, Probe.CPU, 25, State.WARNING, 85.0),
        (host, Probe.CPU, 45, State.OK, 30.0),
        (host, Probe.CPU, 70, State.CRITICAL, 99.0),
        (host, Probe.CPU, 95, State.OK, 1.0),
        (host, Probe.POSTGRES, 10, State.OK, 4.0),
        (host, Probe.POSTGRES, 40, State.CRITICAL, None),  # unreachable: no number, but the state counts
        (other_host, Probe.CPU, 20, State.UNKNOWN, 50.0),
        (host, Probe.CPU, 130, State.ERROR, 7.0),
        (host, Probe.CPU, 185, State.OK, 8.0),  # the minute still running is left for later
    ]
    with time_machine.travel(START, tick=False) as clock:
        for where, probe, seconds, state, value in readings:
            clock.move_to(START + timedelta(seconds=seconds))
            record(where, probe, state, value)
        clock.move_to(START + timedelta(seconds=190))

        written = services.history_fold()

    minute = [START + timedelta(minutes=n) for n in range(4)]
    assert written == 5
    assert _aggregates() == {
        ("web-1", "cpu", minute[0]): (3, pytest.approx(125 / 3), 10.0, 85.0, State.WARNING),
        ("web-1", "cpu", minute[1]): (2, 50.0, 1.0, 99.0, State.CRITICAL),
        ("web-1", "cpu", minute[2]): (1, 7.0, 7.0, 7.0, State.ERROR),
        ("web-1", "postgres", minute[0]): (2, 4.0, 4.0, 4.0, State.CRITICAL),
        ("web-2", "cpu", minute[0]): (1, 50.0, 50.0, 50.0, State.UNKNOWN),
    }


def test_folding_again_changes_nothing_and_picks_up_the_next_minute(host: Host) -> None:
    with time_machine.travel(START, tick=False) as clock:
        for seconds, value in [(10, 20.0), (50, 40.0), (75, 60.0)]:
            clock.move_to(START + timedelta(seconds=seconds))
            record(host, Probe.MEMORY, State.OK, value)
        clock.move_to(START + timedelta(seconds=80))
        services.history_fold()
        first = _aggregates()

        assert services.history_fold() == 1
        assert _aggregates() == first
        assert MinuteAggregate.objects.count() == 1

        clock.move_to(START + timedelta(minutes=2))
        services.history_fold()

    assert _aggregates() == {
        ("web-1", "memory", START): (2, 30.0, 20.0, 40.0, State.OK),
        ("web-1", "memory", START + timedelta(minutes=1)): (1, 60.0, 60.0, 60.0, State.OK),
    }


def test_each_fold_reworks_only_the_last_few_minutes_yet_counts_a_late_sample(host: Host) -> None:
    with time_machine.travel(START, tick=False) as clock:
        Sample.objects.bulk_create(
            Sample(host=host, probe=Probe.CPU, taken_at=START + timedelta(minutes=n, seconds=30), state=State.OK,
                   value=10.0)
            for n in range(180)
        )  # fmt: skip
        clock.move_to(START + timedelta(minutes=180))
        assert services.history_fold() == 180

        # A minute later, a new sample, and one from a worker whose clock is two minutes behind.
        clock.move_to(START + timedelta(minutes=180, seconds=30))
        record(host, Probe.CPU, State.OK, 20.0)
        record(host, Probe.CPU, State.CRITICAL, 90.0, taken_at=START + timedelta(minutes=178, seconds=45))
        clock.move_to(START + timedelta(minutes=181))
        written = services.history_fold()

    # The three hours are not folded again: a handful of minutes at the end are.
    assert written <= 10
    assert MinuteAggregate.objects.count() == 181
    late = MinuteAggregate.objects.get(minute=START + timedelta(minutes=178))
    assert (late.count, late.value_max, late.worst_state) == (2, 90.0, State.CRITICAL)
    assert MinuteAggregate.objects.get(minute=START + timedelta(minutes=180)).value_avg == 20.0


def test_prune_deletes_raw_after_a_day_and_aggregates_after_thirty_days(host: Host) -> None:
    now = START
    kept_raw = record(host, Probe.CPU, State.OK, 1.0, taken_at=now - timedelta(hours=23, minutes=59))
    record(host, Probe.CPU, State.OK, 2.0, taken_at=now - timedelta(hours=24, minutes=1))
    record(host, Probe.CPU, State.OK, 3.0, taken_at=now - timedelta(days=3))

    def aggregate(age: timedelta) -> MinuteAggregate:
        return MinuteAggregate.objects.create(
            host=host, probe=Probe.CPU, minute=now - age, count=1, value_avg=1, value_min=1, value_max=1,
            worst_state=State.OK,
        )  # fmt: skip

    kept_minute = aggregate(timedelta(days=29, hours=23))
    aggregate(timedelta(days=30, minutes=1))
    aggregate(timedelta(days=90))

    with time_machine.travel(now, tick=False):
        assert services.history_prune() == (2, 2)

    assert list(Sample.objects.all()) == [kept_raw]
    assert list(MinuteAggregate.objects.all()) == [kept_minute]


def test_a_week_of_sampling_keeps_the_raw_table_at_one_day(db: None) -> None:
    """Three hosts, two probes, a sample every ten minutes, folded and pruned every six hours for
    a week (coarse steps of what beat does every minute), then once more a month later."""
    hosts = [Host.objects.create(name=f"node-{n}") for n in range(3)]
    probes = [Probe.CPU, Probe.MEMORY]
    step = timedelta(hours=6)
    every = timedelta(minutes=10)
    per_step = len(hosts) * len(probes) * (step // every)
    one_day = (timedelta(hours=24) // step) * per_step
    raw_sizes = []

    with time_machine.travel(START, tick=False) as clock:
        now = START
        for _ in range(7 * 4):
            times = [now + every * n for n in range(step // every)]
            Sample.objects.bulk_create(
                Sample(host=h, probe=p, taken_at=t, state=State.OK, value=float(t.minute))
                for h in hosts for p in probes for t in times
            )  # fmt: skip
            now += step
            clock.move_to(now)
            services.history_fold()
            services.history_prune()
            raw_sizes.append(Sample.objects.count())

        oldest_raw = Sample.objects.order_by("taken_at").first()
        assert oldest_raw is not None
        assert now - oldest_raw.taken_at <= timedelta(hours=24)
        # One day's worth from the first day on, not growing with the week.
        assert max(raw_sizes) == one_day
        assert set(raw_sizes[3:]) == {one_day}
        # A week is inside the 30 days: every sampled minute is there, once.
        assert MinuteAggregate.objects.count() == 7 * 4 * per_step

        clock.move_to(now + timedelta(days=31))
        services.history_fold()
        services.history_prune()

    assert Sample.objects.count() == 0
    assert MinuteAggregate.objects.count() == 0
