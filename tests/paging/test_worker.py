"""Paging on a real Celery worker (a subprocess) with the real Redis broker: steps sent with their
countdown, and a worker and beat stopped between two steps, caught up by the auditor with
exactly one page."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.accounts.models import User
from apps.incidents.models import Component, EventKind, Incident, TimelineEvent
from apps.paging.models import Escalation, EscalationStep, Page, PathLevel
from apps.paging.tasks import run_escalation_step
from incidentcenter.celery import app
from tests.factories import declare_incident
from tests.paging.conftest import People, escalation_of
from tests.paging.servers import HttpServer, SmtpServer, ack_link, text_of, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
BASE_DIR = Path(__file__).resolve().parents[2]
WORKER_NAME = f"pagingtest@{socket.gethostname()}"
START_SECONDS = 30
STEP_SECONDS = 2


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Workers:
    """Starts and stops `celery worker` subprocesses (optionally with beat) on the test database."""

    env: dict[str, str]
    log: Path
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *, beat: bool = False) -> subprocess.Popen[bytes]:
        args = [
            str(BASE_DIR / ".venv/bin/celery"),
            "-A",
            "incidentcenter",
            "worker",
            "--pool=solo",
            "-Q",
            "default",
            "-n",
            "pagingtest@%h",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
        if beat:
            args += ["-B", "--schedule", str(self.log.with_suffix(".beat"))]
        with self.log.open("ab") as out:
            # Its own process group: stopping it stops the beat it runs as well.
            process = subprocess.Popen(
                args, cwd=BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running.append(process)
        wait_for(lambda: self._answers() or process.poll() is not None, START_SECONDS, "the worker to start")
        assert process.poll() is None, self.log.read_text()[-3000:]
        return process

    def _answers(self) -> bool:
        return bool(app.control.ping(destination=[WORKER_NAME], timeout=0.3))

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """Stop it the hard way, as a crash or a power cut would: nothing is handed back."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        # Killed, not stopped warmly: what they held is dropped by the fixture with the queue.
        for process in self.running:
            if process.poll() is None:
                self.kill(process)

    def logged(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")


@pytest.fixture
def workers(tmp_path: Path, smtp: SmtpServer, http: HttpServer) -> Iterator[Workers]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "incidentcenter.settings",
        "DEBUG": "1",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_USE_TLS": "0",
        "EMAIL_TIMEOUT": "2",
        "SITE_URL": "http://incidents.test",
        "PAGING_SMS_URL": f"{http.url}/ok/sms",
        # The stand-in webhooks are on 127.0.0.1 (see conftest's paging_settings).
        "OUTBOUND_ALLOW_PRIVATE": "1",
        "PAGING_HTTP_TIMEOUT_SECONDS": "1",
        "PAGING_AUDIT_SECONDS": "1",
        "PAGING_AUDIT_GRACE_SECONDS": "1",
        # Other periodic work has nothing to do in this test; keep beat to the auditor.
        "HEALTH_SAMPLE_SECONDS": "3600",
    }
    app.control.purge()
    found = Workers(env=env, log=tmp_path / "worker.log")
    yield found
    found.stop_all()
    app.control.purge()
    # Messages a killed worker held stay "unacknowledged" in Redis for an hour; drop them.
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("unacked", "unacked_index", "unacked_mutex")


def declare_with_short_timeouts(user: User, seconds: int = STEP_SECONDS) -> Incident:
    """Declare (the commit sends the first step to the broker), then shorten the copied path's
    timeouts to seconds before any worker runs it."""
    incident = declare_incident(user, scenario="database_failure", severity="sev2", title="Primary database down")
    PathLevel.objects.filter(escalation__incident=incident).update(ack_timeout_seconds=seconds)
    return incident


def test_a_real_worker_pages_escalates_on_time_and_stops_on_acknowledgement(
    workers: Workers, responder: User, people: People, smtp: SmtpServer, http: HttpServer
) -> None:
    incident = declare_with_short_timeouts(responder)
    workers.start()

    mail = smtp.wait_to("dana@example.com")[0]
    first_page = Page.objects.get(incident=incident, level=2)
    wait_for(lambda: http.to("/ok/sms"), what="the technical lead's SMS")
    second_page = Page.objects.get(incident=incident, level=3)
    waited = (second_page.created_at - first_page.created_at).total_seconds()
    assert STEP_SECONDS <= waited < STEP_SECONDS + 1.5, waited

    response = Client().post(ack_link(text_of(mail)).removeprefix("http://incidents.test"))
    assert "Thank you, Dana Dba" in response.content.decode()
    skipped = EscalationStep.objects.filter(escalation__incident=incident).order_by("number").last()
    assert skipped is not None
    assert skipped.state == EscalationStep.State.SKIPPED
    # Its message still reaches the worker when its countdown ends, and does nothing.
    wait_for(lambda: workers.logged("succeeded") and workers.logged("'stale'"), what="the skipped step to arrive")
    assert not http.to("/ok/pat")
    assert Page.objects.filter(incident=incident).count() == 2
    assert escalation_of(incident).state == Escalation.State.ACKNOWLEDGED


def test_the_auditor_catches_up_a_step_missed_while_worker_and_beat_were_down_with_exactly_one_page(
    workers: Workers, responder: User, people: People, smtp: SmtpServer, http: HttpServer
) -> None:
    incident = declare_with_short_timeouts(responder, seconds=3)
    first = workers.start(beat=True)
    smtp.wait_to("dana@example.com")
    wait_for(lambda: Page.objects.filter(incident=incident, state=Page.State.SENT).exists(), what="the first page")
    escalation = escalation_of(incident)
    missed_step = escalation.active_step_id
    due_at = escalation.next_step_due_at
    assert missed_step is not None
    assert due_at is not None

    workers.kill(first)
    assert timezone.now() < due_at, "the worker stopped before the next step was due"
    # Beat and worker are down while the technical lead's step falls due, and past the grace period.
    wait_for(lambda: timezone.now() > due_at + timedelta(seconds=1.5), what="the step to be overdue")
    assert not http.to("/ok/sms")
    assert EscalationStep.objects.get(pk=missed_step).state == EscalationStep.State.SCHEDULED

    workers.start(beat=True)
    wait_for(lambda: http.to("/ok/sms"), what="the auditor to page the technical lead")
    step = EscalationStep.objects.get(pk=missed_step)
    assert step.state == EscalationStep.State.DONE
    assert step.ran_by_auditor
    late = TimelineEvent.objects.get(incident=incident, kind=EventKind.ESCALATION_LATE, step=step)
    assert late.component == Component.AUDITOR
    assert late.text.startswith("Auditor: escalation step 2 (escalation after the timeout) was")

    # The message the killed worker held, delivered again, pages nobody.
    run_escalation_step.delay(missed_step)
    wait_for(lambda: workers.logged("'stale'"), what="the redelivered step to run")
    assert len(http.to("/ok/sms")) == 1
    assert Page.objects.filter(incident=incident, level=3).count() == 1
    assert len(smtp.to("dana@example.com")) == 1
