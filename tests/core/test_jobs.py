"""The one path for background jobs (apps.core.jobs): by name, ids only, after commit; on Celery
or on the embedded runner, which stops cleanly."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from apps.core import jobs
from incidentcenter.celery import app as celery_app
from tests.core.helpers import wait_for

CALLS: list[tuple[int, ...]] = []
RELEASE = threading.Event()


@shared_task(name="tests.record_call")
def record_call(*ids: int) -> None:
    CALLS.append(ids)


@shared_task(name="tests.wait_for_release")
def wait_for_release(*ids: int) -> None:
    RELEASE.wait(timeout=30)
    CALLS.append(ids)


@pytest.fixture(autouse=True)
def _fresh_calls() -> Iterator[None]:
    CALLS.clear()
    RELEASE.clear()
    yield
    RELEASE.set()
    jobs.stop_in_process()


def _job_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("jobs-worker", "jobs-clock"))]


# --- enqueue ----------------------------------------------------------------------------------


def test_a_job_carries_ids_only() -> None:
    with pytest.raises(TypeError, match="ids only"):
        jobs.enqueue("tests.record_call", "web-1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ids only"):
        jobs.enqueue("tests.record_call", True)


def test_a_misspelt_task_name_fails_in_the_caller() -> None:
    with pytest.raises(LookupError, match=r"remediation\.execute_runs"):
        jobs.enqueue("remediation.execute_runs", 1)


def test_every_task_has_an_explicit_app_verb_noun_name() -> None:
    jobs._registered("remediation.execute_run")  # imports every app's tasks module
    ours = [name for name in celery_app.tasks if not name.startswith(("celery.", "tests."))]
    assert ours, "no task registered"
    for name in ours:
        app_label, _, verb_noun = name.partition(".")
        assert app_label in {"comms", "health", "paging", "remediation"}, name
        assert verb_noun, name
        assert "." not in verb_noun, name
        assert verb_noun == verb_noun.lower(), name


def test_beat_sends_only_registered_tasks() -> None:
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        jobs._registered(str(entry["task"]))


@pytest.mark.django_db(transaction=True)
def test_a_job_leaves_only_when_its_transaction_commits() -> None:
    with jobs.captured() as sent:
        with transaction.atomic():
            jobs.enqueue("tests.record_call", 7, queue="host.web-1")
            assert sent == []
        assert sent == [jobs.Job("tests.record_call", (7,), queue="host.web-1")]

        def rolled_back() -> None:
            with transaction.atomic():
                jobs.enqueue("tests.record_call", 8)
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError, match="rolled back"):
            rolled_back()
        assert len(sent) == 1


@pytest.mark.django_db(transaction=True)
@override_settings(JOBS_IN_PROCESS=False)
def test_on_celery_a_job_is_sent_by_name_with_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, **options: sent.append((name, options)))
    due = timezone.now() + timedelta(minutes=5)

    jobs.enqueue("remediation.execute_run", 12, queue="host.web-1")
    jobs.enqueue("paging.run_escalation_step", 3, eta=due)
    jobs.enqueue("comms.send_notice", 4, countdown=60)
    jobs.enqueue("health.sample_host", 5, queue="host.db-1", expires=5)

    assert sent == [
        ("remediation.execute_run", {"args": (12,), "queue": "host.web-1"}),
        ("paging.run_escalation_step", {"args": (3,), "eta": due}),
        ("comms.send_notice", {"args": (4,), "countdown": 60}),
        ("health.sample_host", {"args": (5,), "queue": "host.db-1", "expires": 5}),
    ]


@pytest.mark.django_db(transaction=True)
@override_settings(JOBS_IN_PROCESS=False)
def test_a_broker_that_cannot_be_reached_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(name: str, **options: Any) -> None:
        raise ConnectionRefusedError("Redis is down")

    monkeypatch.setattr(celery_app, "send_task", refuse)
    jobs.enqueue("remediation.execute_run", 12)
    assert "job remediation.execute_run(12,) could not be sent now" in caplog.text


@pytest.mark.django_db
def test_a_job_called_back_inside_a_transaction_that_never_commits_is_not_sent(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # As a test that runs its on-commit callbacks inside its own transaction does.
    with override_settings(JOBS_IN_PROCESS=True), django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue("tests.record_call", 1)
    assert _job_threads() == []
    assert CALLS == []


# --- which hosts this process works for -------------------------------------------------------


@override_settings(WORKER_SERVES_EVERY_HOST=False, INCIDENTCENTER_HOST="web-1")
def test_a_worker_on_its_host_serves_that_host_only() -> None:
    assert jobs.this_host_only() == "web-1"
    assert jobs.serves_host("web-1")
    assert not jobs.serves_host("db-1")


@override_settings(WORKER_SERVES_EVERY_HOST=True, INCIDENTCENTER_HOST="web-1")
def test_the_embedded_runner_serves_every_host() -> None:
    assert jobs.this_host_only() is None
    assert jobs.serves_host("db-1")


# --- the embedded runner ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@override_settings(JOBS_IN_PROCESS=True)
def test_in_embedded_mode_a_job_runs_in_this_process_after_commit() -> None:
    with transaction.atomic():
        jobs.enqueue("tests.record_call", 1, 2)
        assert CALLS == []
    wait_for(lambda: CALLS == [(1, 2)], timeout=5, interval=0.01, what="the job to run")


@pytest.mark.django_db(transaction=True)
@override_settings(JOBS_IN_PROCESS=True)
def test_a_delayed_job_waits_its_countdown() -> None:
    started = time.monotonic()
    jobs.enqueue("tests.record_call", 1, countdown=0.3)
    jobs.enqueue("tests.record_call", 2, eta=timezone.now() + timedelta(seconds=0.1))
    wait_for(lambda: len(CALLS) == 2, timeout=5, interval=0.01, what="both jobs to run")
    assert CALLS == [(2,), (1,)]
    assert time.monotonic() - started >= 0.3


def test_a_job_that_waited_past_its_expiry_is_dropped() -> None:
    runner = jobs.InProcessRunner(workers=1)
    try:
        runner.submit("tests.wait_for_release", (1,))
        runner.submit("tests.record_call", (2,), expires=0.05)  # queued behind the first
        time.sleep(0.2)
        RELEASE.set()
        wait_for(lambda: CALLS == [(1,)], timeout=5, interval=0.01, what="the first job")
        time.sleep(0.1)
        assert CALLS == [(1,)]
    finally:
        assert runner.stop()


def test_beat_sends_each_periodic_job_at_once_and_then_every_so_often() -> None:
    runner = jobs.InProcessRunner()
    try:
        runner.start_beat({"often": {"task": "tests.record_call", "schedule": 0.1, "args": (9,)}})
        wait_for(lambda: len(CALLS) >= 3, timeout=5, interval=0.01, what="three ticks")
    finally:
        assert runner.stop()
    assert set(CALLS) == {(9,)}


def test_stopping_lets_a_running_job_finish_drops_waiting_ones_and_ends_every_thread() -> None:
    runner = jobs.InProcessRunner(workers=1)
    runner.submit("tests.wait_for_release", (1,))
    runner.submit("tests.record_call", (2,))  # queued behind it
    runner.submit("tests.record_call", (3,), delay=60)
    runner.start_beat({"often": {"task": "tests.record_call", "schedule": 60.0, "args": (4,)}})
    wait_for(lambda: any(t.name.startswith("jobs-worker") for t in threading.enumerate()), timeout=5,
             interval=0.01, what="the worker thread")  # fmt: skip

    threading.Timer(0.2, RELEASE.set).start()
    assert runner.stop(timeout=5)

    assert CALLS == [(1,)]
    assert _job_threads() == []
    runner.submit("tests.record_call", (5,))  # a stopped runner takes no more work
    time.sleep(0.05)
    assert CALLS == [(1,)]


def test_stopping_reports_a_job_that_does_not_finish_in_time() -> None:
    runner = jobs.InProcessRunner(workers=1)
    runner.submit("tests.wait_for_release", (1,))
    time.sleep(0.05)
    assert not runner.stop(timeout=0.1)
    RELEASE.set()


@pytest.mark.django_db(transaction=True)
@override_settings(JOBS_IN_PROCESS=True)
def test_after_a_stop_the_next_job_starts_a_new_runner() -> None:
    jobs.enqueue("tests.record_call", 1)
    wait_for(lambda: CALLS == [(1,)], timeout=5, interval=0.01, what="the first job")
    assert jobs.stop_in_process()
    assert _job_threads() == []
    jobs.enqueue("tests.record_call", 2)
    wait_for(lambda: CALLS == [(1,), (2,)], timeout=5, interval=0.01, what="the second job")


@override_settings(JOBS_IN_PROCESS=True)
def test_runserver_without_redis_is_beat_too_and_nothing_else_is(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[bool] = []
    monkeypatch.setattr(jobs.InProcessRunner, "start_beat", lambda self, schedule: started.append(True))
    assert not jobs.start_beat_if_serving(["manage.py", "migrate"], {})
    assert not jobs.start_beat_if_serving(["manage.py", "runserver"], {})  # the autoreloader's parent
    assert not jobs.start_beat_if_serving(["pytest"], {"RUN_MAIN": "true"})
    assert jobs.start_beat_if_serving(["manage.py", "runserver"], {"RUN_MAIN": "true"})
    assert jobs.start_beat_if_serving(["manage.py", "runserver", "--noreload"], {})
    with override_settings(JOBS_IN_PROCESS=False):
        assert not jobs.start_beat_if_serving(["manage.py", "runserver", "--noreload"], {})
    assert started == [True, True]


# --- on the real broker -----------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_on_redis_a_job_is_routed_to_the_queue_it_names() -> None:
    queue = f"host.jobs-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        with override_settings(JOBS_IN_PROCESS=False):
            jobs.enqueue("remediation.execute_run", 41, queue=queue, countdown=30)
        [raw] = client.lrange(queue, 0, -1)
        message = json.loads(raw)
        assert message["headers"]["task"] == "remediation.execute_run"
        assert message["headers"]["argsrepr"] == "(41,)"
        assert message["headers"]["eta"]
    finally:
        client.delete(queue, f"_kombu.binding.{queue}")
