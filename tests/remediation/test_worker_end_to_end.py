"""Remediation runs on a real `celery worker` of their host's queue, on the real Redis broker and the
test database: what a responder requests runs there once, and only when it may.

Each test starts its own worker (its own host and queue name, so nothing another run left in Redis
can reach it), as the host runs it: `-Q host.<name>`, INCIDENTCENTER_HOST=<name>, the action folders
and settings in its environment. The worker sees only committed rows, so the tests are
transactional. Every wait polls for a condition and gives up after a bound, with the worker's log.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.test import override_settings

from apps.accounts.models import User
from apps.health.models import Host
from apps.incidents.models import ChecklistItem, Component, EventKind, Incident, TimelineEvent
from apps.remediation import services
from apps.remediation.models import ActionRun, ApprovalRule, RunLogLine
from apps.remediation.renderers import RUN_KINDS
from apps.remediation.tasks import execute_run
from apps.runbooks.models import Scenario
from incidentcenter.celery import app as celery_app
from tests.core.helpers import wait_for
from tests.factories import declare_incident
from tests.health.conftest import the_test_database_url
from tests.remediation.conftest import log_text, request_run

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CELERY = Path(sys.executable).parent / "celery"
State = ActionRun.State
# A cold worker imports Django and every app before it takes its first message (~6 s here).
READY_SECONDS = 90
# Anything a running worker does for these tests takes well under a second.
WAIT_SECONDS = 30
POLL_SECONDS = 0.1

SERVICE_MANAGER = """#!/bin/sh
# Stand-in for systemctl: `is-active NAME` says active; `restart NAME` says so, then hangs, as a
# service that does not come back would.
echo "$*" >> "{folder}/calls"
case "$1" in
  is-active) echo active ;;
  restart) echo "stand-in: restarting $2"; echo $$ > "{folder}/restart.pid"; exec sleep 60 ;;
  *) echo "stand-in: $*" ;;
esac
"""


class Worker:
    """`celery worker --pool=solo -Q host.<name>` on the test database, in a process group of its own."""

    def __init__(self, host_name: str, log_path: Path, env: dict[str, str]) -> None:
        self.host_name = host_name
        self.node = f"e2e-{host_name}"
        self.log_path = log_path
        command = [str(CELERY), "-A", "incidentcenter", "worker", "--pool=solo", "-Q", f"host.{host_name}",
                   "-n", f"{self.node}@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO"]  # fmt: skip
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited early:\n{self.output()[-4000:]}")
            return " ready." in self.output()

        wait_for(ready, timeout=READY_SECONDS, interval=POLL_SECONDS, what="the worker to be ready")

    def kill(self) -> None:
        """SIGKILL to the worker's whole process group, as when its machine loses power."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def host_name() -> str:
    # A queue of its own per test: nothing left in Redis by an earlier run can reach this worker.
    return f"e2e-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def host(transactional_db: None, host_name: str) -> Host:
    return Host.objects.create(
        name=host_name, description="this machine, by its own worker", services="mvono-app, nginx"
    )


@pytest.fixture
def broker(host_name: str) -> Iterator[redis.Redis]:
    """The Redis the messages go through; afterwards, whatever this test's queue left there."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    queue = f"host.{host_name}"
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    for key in client.scan_iter(match=f"incidentcenter:worker:e2e-{host_name}@*"):
        client.delete(key)
    # A message the killed worker had taken and not acknowledged.
    for tag, raw in client.hscan_iter("unacked"):
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


@pytest.fixture
def start_worker(
    host: Host, broker: redis.Redis, action_folders: dict[str, Path], tmp_path: Path
) -> Iterator[Callable[..., Worker]]:
    """Start the host's worker (not waiting for it); every worker started is stopped afterwards."""
    started: list[Worker] = []

    def start(**extra_env: str) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": the_test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CHANNEL_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            "INCIDENTCENTER_HOST": host.name,
            "DEBUG": "1",
            **{name: str(folder) for name, folder in action_folders.items()},
            "MAINTENANCE_CHECK_URL": "",
            "REMEDIATION_HEARTBEAT_SECONDS": "1",
            **extra_env,
        }
        worker = Worker(host.name, tmp_path / f"worker-{len(started) + 1}.log", env)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


def wait_for_state(run: ActionRun, state: str, worker: Worker, timeout: float = WAIT_SECONDS) -> ActionRun:
    def reached() -> ActionRun | None:
        run.refresh_from_db()
        if run.state == state:
            return run
        if run.state in ActionRun.FINISHED_STATES:
            pytest.fail(f"run #{run.pk} ended {run.state} ({run.summary}), not {state}:\n{log_text(run)}")
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited while run #{run.pk} was {run.state}:\n{worker.output()[-4000:]}")
        return None

    try:
        return wait_for(reached, timeout=timeout, interval=POLL_SECONDS, what=f"run #{run.pk} to be {state}")
    except AssertionError as error:
        raise AssertionError(f"{error}; run is {run.state}; worker log:\n{worker.output()[-4000:]}") from None


def run_history(incident: Incident, run: ActionRun) -> list[tuple[str, Any]]:
    """The run's own events on the incident, in order: each kind with the value that says how
    (whether a request waits for approval, how a finish ended)."""
    events = TimelineEvent.objects.filter(incident=incident, run=run, kind__in=RUN_KINDS).order_by("at", "pk")
    return [(event.kind, event.data.get("awaiting_approval", event.data.get("state"))) for event in events]


REQUESTED = (EventKind.RUN_REQUESTED, False)
AWAITING = (EventKind.RUN_REQUESTED, True)
APPROVED = (EventKind.RUN_APPROVED, None)
STARTED = (EventKind.RUN_STARTED, None)
SUCCEEDED = (EventKind.RUN_FINISHED, "succeeded")
LOST = (EventKind.RUN_LOST, None)


def send_message(run_id: Any, host: Host) -> None:
    """A message straight to the host's queue, as a replay or a forgery would arrive."""
    execute_run.apply_async(args=(run_id,), queue=host.queue)


def flag(action_folders: dict[str, Path]) -> Path:
    return action_folders["MAINTENANCE_DIR"] / "maintenance.flag"


# --- 1. end to end ------------------------------------------------------------------------------


def test_a_requested_run_goes_through_the_hosts_worker_and_ticks_its_runbook_step(
    procedures: Any, responder: User, host: Host, start_worker: Callable[..., Worker], action_folders: dict[str, Path]
) -> None:
    worker = start_worker()
    incident = declare_incident(responder, scenario=Scenario.DATA_CORRUPTION, title="Orders table corrupted")
    item = incident.checklist.get(action="maintenance_mode")
    worker.wait_ready()

    run = request_run(
        responder, "maintenance_mode", {"mode": "on", "message": "Back soon"}, host=host, incident=incident, item=item
    )
    run = wait_for_state(run, State.SUCCEEDED, worker)

    assert run.verified
    assert run.exit_status == "ok"
    assert run.worker.startswith(f"{host.name}:")
    assert run.started_at
    assert run.finished_at
    assert json.loads(flag(action_folders).read_text())["run"] == run.pk
    assert (action_folders["MAINTENANCE_DIR"] / "maintenance.html").exists()
    log = log_text(run)
    assert "Flag written" in log
    assert "Read back: page matches, flag present" in log
    seqs = list(run.log_lines.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))

    assert run_history(incident, run) == [REQUESTED, STARTED, SUCCEEDED]
    assert set(
        TimelineEvent.objects.filter(run=run, kind__in=[EventKind.RUN_STARTED, EventKind.RUN_FINISHED]).values_list(
            "component", flat=True
        )
    ) == {Component.WORKER}
    item.refresh_from_db()
    assert (item.state, item.completed_by) == (ChecklistItem.State.DONE, responder)
    assert TimelineEvent.objects.filter(
        incident=incident, kind=EventKind.STEP_DONE, item=item, run=run, data__verified=True
    ).exists()


# --- 2. a worker killed mid-run -----------------------------------------------------------------


@pytest.fixture
def service_manager(tmp_path: Path) -> Iterator[Path]:
    """The stand-in systemctl; afterwards its hanging `restart` (in a session of its own, as every
    command of a run is) is killed if it is still there."""
    folder = tmp_path / "service-manager"
    folder.mkdir()
    script = folder / "systemctl"
    script.write_text(SERVICE_MANAGER.format(folder=folder))
    script.chmod(0o755)
    yield script
    pid_file = folder / "restart.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text())
        if _sleeping(pid):  # still our stand-in, not a reused pid
            os.killpg(pid, signal.SIGKILL)


def _sleeping(pid: int) -> bool:
    try:
        return b"sleep" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_a_worker_killed_mid_run_leaves_the_run_lost_with_its_partial_log(
    responder: User, host: Host, start_worker: Callable[..., Worker], service_manager: Path
) -> None:
    worker = start_worker(SERVICE_MANAGER="systemctl", SERVICE_MANAGER_BIN=str(service_manager))
    incident = declare_incident(responder, title="App not answering")
    worker.wait_ready()
    run = request_run(responder, "restart_service", {"service": "mvono-app"}, host=host, incident=incident)

    # The restart has printed its line and hangs (for 60 s): the line is stored meanwhile.
    def restarting() -> bool:
        run.refresh_from_db()
        return run.state == State.RUNNING and "stand-in: restarting mvono-app" in log_text(run)

    try:
        wait_for(restarting, timeout=WAIT_SECONDS, interval=POLL_SECONDS, what="the restart's line")
    except AssertionError as error:
        raise AssertionError(f"{error}; run is {run.state}, log:\n{log_text(run)}\n{worker.output()[-4000:]}") from None
    pid = int((service_manager.parent / "restart.pid").read_text())
    assert _sleeping(pid)  # mid-run: the restart has not returned
    lines_before = log_text(run)
    worker.kill()

    with override_settings(REMEDIATION_LOST_SECONDS=2):

        def lost() -> bool:
            services.runs_sweep()
            run.refresh_from_db()
            return run.state == State.LOST

        wait_for(lost, timeout=WAIT_SECONDS, interval=POLL_SECONDS, what=f"run #{run.pk} to be called lost")

    assert run.finished_at
    assert not run.exit_status
    assert log_text(run) == lines_before  # kept as it was when the worker died
    assert "stand-in: restarting mvono-app" in log_text(run)
    count = RunLogLine.objects.filter(run=run).count()
    assert f"{count} log line(s) kept" in run.summary
    assert run_history(incident, run) == [REQUESTED, STARTED, LOST]
    calls = (service_manager.parent / "calls").read_text().splitlines()
    assert calls[-1] == "restart mvono-app"
    # What the killed worker had started lives on in a session of its own (a run's commands are
    # started with start_new_session, so that a timeout can kill their group): the service_manager
    # fixture kills it.


# --- 3. worker down, broker down ----------------------------------------------------------------


def test_runs_requested_while_the_worker_or_the_broker_was_down_run_once_when_they_are_back(
    responder: User,
    host: Host,
    start_worker: Callable[..., Worker],
    broker: redis.Redis,
    action_folders: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    incident = declare_incident(responder, title="Site down")
    # No worker: the message waits in Redis.
    waiting = request_run(responder, "maintenance_mode", {"mode": "on", "message": "Worker was down"}, host=host,
                          incident=incident)  # fmt: skip
    assert broker.llen(host.queue) == 1
    # The broker is unreachable: the request is still recorded, and the send fails quietly.
    unreachable = Celery("broker-down", broker="redis://127.0.0.1:1/0", set_as_current=False)
    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, logger="apps.core.jobs"):
        patch.setattr(celery_app, "send_task", unreachable.send_task)
        unsent = request_run(responder, "maintenance_mode", {"mode": "on", "message": "Broker was down"}, host=host,
                             incident=incident)  # fmt: skip
    assert f"job remediation.execute_run({unsent.pk},) could not be sent now" in caplog.text
    assert broker.llen(host.queue) == 1
    unsent.refresh_from_db()
    assert (unsent.state, unsent.send_count) == (State.QUEUED, 1)

    worker = start_worker()
    wait_for_state(waiting, State.SUCCEEDED, worker, timeout=READY_SECONDS)
    unsent.refresh_from_db()
    assert unsent.state == State.QUEUED  # nothing carries it yet
    assert json.loads(flag(action_folders).read_text())["message"] == "Worker was down"

    with override_settings(REMEDIATION_RESEND_SECONDS=1):
        wait_for(
            lambda: unsent.pk in services.runs_sweep().resent,
            timeout=WAIT_SECONDS,
            interval=POLL_SECONDS,
            what="the sweeper to send it again",
        )
    wait_for_state(unsent, State.SUCCEEDED, worker)
    assert json.loads(flag(action_folders).read_text())["message"] == "Broker was down"
    assert unsent.send_count == 2
    assert waiting.send_count == 1
    for run in (waiting, unsent):
        assert run_history(incident, run) == [REQUESTED, STARTED, SUCCEEDED]
        assert log_text(run).count("Flag written") == 1


# --- 4. replays -------------------------------------------------------------------------------


def test_a_replayed_message_does_not_run_the_action_twice(
    responder: User, host: Host, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker()
    incident = declare_incident(responder, title="Site down")
    worker.wait_ready()
    run = request_run(responder, "maintenance_mode", {"mode": "on", "message": "Down"}, host=host, incident=incident)
    send_message(run.pk, host)
    send_message(run.pk, host)
    run = wait_for_state(run, State.SUCCEEDED, worker)
    started_at, lines = run.started_at, log_text(run)
    send_message(run.pk, host)
    # One queue, one solo worker: once a run requested after them has finished, every replay
    # before it has been handled.
    after = request_run(responder, "maintenance_mode", {"mode": "on", "message": "Later"}, host=host, dry_run=True)
    wait_for_state(after, State.SUCCEEDED, worker)

    run.refresh_from_db()
    assert (run.state, run.started_at) == (State.SUCCEEDED, started_at)
    assert log_text(run) == lines
    assert lines.count("Flag written") == 1
    assert run_history(incident, run) == [REQUESTED, STARTED, SUCCEEDED]
    assert worker.output().count("'not claimed'") == 3


# --- 5. what may not run does not ---------------------------------------------------------------


def test_forged_messages_run_nothing_unapproved_nor_for_another_host(
    responder: User,
    manager: User,
    host: Host,
    host_name: str,
    start_worker: Callable[..., Worker],
    action_folders: dict[str, Path],
) -> None:
    ApprovalRule.objects.create(action="maintenance_mode", needs_approval=True)  # dangerous on this site
    worker = start_worker()
    incident = declare_incident(responder, title="Site defaced")
    params = {"mode": "on", "message": "Down"}
    awaiting = request_run(responder, "maintenance_mode", params, host=host, incident=incident)
    assert awaiting.state == State.AWAITING_APPROVAL
    # A row forged as queued although it needs approval and has none.
    forged = ActionRun.objects.create(
        action="maintenance_mode", host=host, params=params, requested_by=responder, needs_approval=True,
        state=State.QUEUED,
    )  # fmt: skip
    # Another host's run, its message sent to this host's queue.
    other = Host.objects.create(name=f"{host_name}-other")
    elsewhere = ActionRun.objects.create(action="maintenance_mode", host=other, params=params, requested_by=responder)
    for run_id in (awaiting.pk, forged.pk, elsewhere.pk, f"{awaiting.pk}; touch /tmp/x"):
        send_message(run_id, host)
    worker.wait_ready()
    # A dry run needs no approval: once it has finished, every message before it was handled.
    sentinel = request_run(responder, "maintenance_mode", params, host=host, dry_run=True)
    wait_for_state(sentinel, State.SUCCEEDED, worker)

    for run, state in ((awaiting, State.AWAITING_APPROVAL), (forged, State.QUEUED), (elsewhere, State.QUEUED)):
        run.refresh_from_db()
        assert (run.state, run.started_at, run.worker) == (state, None, "")
        assert not run.log_lines.exists()
    assert not flag(action_folders).exists()
    assert run_history(incident, awaiting) == [AWAITING]
    output = worker.output()
    assert output.count("'not claimed'") == 3
    assert output.count("'refused'") == 1

    # Approved by a second person, it runs: once.
    services.run_approve(run_id=awaiting.pk, user=manager)
    wait_for_state(awaiting, State.SUCCEEDED, worker)
    assert flag(action_folders).exists()
    assert run_history(incident, awaiting) == [AWAITING, APPROVED, STARTED, SUCCEEDED]
    forged.refresh_from_db()
    assert forged.state == State.QUEUED
