"""Mail to subscribers through a real SMTP server (aiosmtpd on 127.0.0.1): batches over one
connection, a delivery row per recipient with its outcome, retries, and failures shown. One test
sends through a real Celery worker consuming from Redis."""

from __future__ import annotations

import email
import email.message
import email.policy
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.comms import links, tasks
from apps.comms.models import Component, Delivery, Notice
from apps.comms.services import mailing
from apps.comms.services.components import components_load
from apps.incidents.models import Incident, Severity
from tests.comms.conftest import compose_url, form_data, make_subscriber, post
from tests.conftest import smtp_mailers
from tests.factories import declare_incident

DEADLINE_SECONDS = 30


@dataclass
class SmtpServer:
    """Accepts every message, except for the addresses told to refuse (with their reply)."""

    port: int
    messages: list[email.message.Message] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    sessions: int = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.Message]:
        return [m for m in self.messages if m["To"] == address]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    server = SmtpServer(port=_free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    settings.MAILERS = smtp_mailers(server.port, timeout=5)
    yield server
    controller.stop()


def _statuses(notice: Notice) -> dict[str, str]:
    return dict(Delivery.objects.filter(notice=notice).values_list("subscriber__email", "status"))


@pytest.mark.django_db
def test_a_public_update_is_mailed_to_each_subscriber_with_their_unsubscribe_link(
    smtp: SmtpServer, comms: User, incident: Incident, components: dict[str, Component], settings: Any
) -> None:
    settings.COMMS_MAIL_BATCH_SIZE = 2
    for n in range(3):
        make_subscriber(f"s{n}@example.org")
    update = post(comms, incident, components, title="Records cannot be saved", body="We are **on it**.")
    notice = Notice.objects.get(update=update)

    assert mailing.notice_send_batch(notice.pk) == 2  # one batch
    assert mailing.notice_send_batch(notice.pk) == 1
    assert set(_statuses(notice).values()) == {"sent"}
    assert smtp.sessions == 2  # one SMTP connection per batch
    [message] = smtp.to("s0@example.org")
    assert message["Subject"] == "[System status] Records cannot be saved: Investigating"
    subscriber = Delivery.objects.get(notice=notice, subscriber__email="s0@example.org").subscriber
    unsubscribe = links.unsubscribe_url(subscriber)
    assert message["List-Unsubscribe"].strip() == f"<{unsubscribe}>"  # folded onto its own line, not encoded
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert isinstance(message, email.message.EmailMessage)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "We are **on it**." in text
    assert f"Unsubscribe (one click): {unsubscribe}" in text
    assert "<strong>on it</strong>" in html
    assert f'href="{unsubscribe}"' in html
    # The unsubscribe link of the mail works.
    path = unsubscribe.removeprefix("http://127.0.0.1:8000")
    assert Client().post(path).status_code == 200
    subscriber.refresh_from_db()
    assert not subscriber.is_active


@pytest.mark.django_db
def test_a_refused_recipient_fails_at_once_and_others_still_get_it(
    smtp: SmtpServer, comms: User, incident: Incident, components: dict[str, Component], manager_client: Client
) -> None:
    make_subscriber("good@example.org")
    make_subscriber("gone@example.org")
    smtp.refuse["gone@example.org"] = "550 5.1.1 No such mailbox"
    notice = Notice.objects.get(update=post(comms, incident, components))
    tasks.send_notice(notice.pk)
    assert _statuses(notice) == {"good@example.org": "sent", "gone@example.org": "failed"}
    failed = Delivery.objects.get(status="failed")
    assert failed.attempts == 1
    assert failed.last_error == "Refused by the mail server: 550 5.1.1 No such mailbox"
    # Shown to the people who run communications.
    overview = manager_client.get(reverse("comms:overview")).content.decode()
    assert "gone@example.org" in overview
    assert "550 5.1.1 No such mailbox" in overview
    page = manager_client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "1 sent" in page
    assert "1 failed" in page


@pytest.mark.django_db
def test_a_temporary_failure_is_retried_then_shown(
    smtp: SmtpServer,
    comms: User,
    comms_client: Client,
    incident: Incident,
    components: dict[str, Component],
    settings: Any,
) -> None:
    settings.COMMS_MAIL_MAX_ATTEMPTS = 3
    make_subscriber("busy@example.org")
    smtp.refuse["busy@example.org"] = "451 4.3.0 Try again later"
    notice = Notice.objects.get(update=post(comms, incident, components))
    with time_machine.travel(timezone.now(), tick=False) as clock:
        tasks.send_notice(notice.pk)
        delivery = Delivery.objects.get()
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert delivery.next_attempt_at == timezone.now() + timedelta(seconds=60)
        assert mailing.notice_send_batch(notice.pk) == 0  # not due yet
        clock.shift(timedelta(seconds=61))
        tasks.send_notice(notice.pk)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 2)
        assert delivery.next_attempt_at == timezone.now() + timedelta(seconds=120)  # doubled
        clock.shift(timedelta(seconds=121))
        assert mailing.deliveries_sweep() == 1  # the periodic sweep finds it due
        tasks.send_notice(notice.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert "451 4.3.0 Try again later" in delivery.last_error

    # Once the server accepts again, a person can send the failed ones again.
    del smtp.refuse["busy@example.org"]
    response = comms_client.post(reverse("comms:notice_retry", args=[notice.pk]))
    assert response.status_code == 302
    tasks.send_notice(notice.pk)
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert len(smtp.to("busy@example.org")) == 1


@pytest.mark.django_db
def test_an_unreachable_server_is_retried(
    comms: User, incident: Incident, components: dict[str, Component], settings: Any
) -> None:
    settings.MAILERS = smtp_mailers(_free_port(), timeout=2)
    make_subscriber("x@example.org")
    notice = Notice.objects.get(update=post(comms, incident, components))
    tasks.send_notice(notice.pk)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("ConnectionRefusedError")


@pytest.mark.redis
def test_posting_mails_subscribers_through_a_celery_worker(
    transactional_db: None, smtp: SmtpServer, settings: Any, make_user: Callable[..., User]
) -> None:
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    from incidentcenter.celery import app

    settings.COMMS_MAIL_BATCH_SIZE = 2
    components = {c.name: c for c in components_load()}
    coordinator = make_user(User.Role.RESPONDER, username="cora", first_name="Cora", last_name="Coordinator")
    declarer = make_user(User.Role.RESPONDER, username="riley")
    incident = declare_incident(declarer, severity=Severity.SEV1, coordinator=coordinator)
    for n in range(5):
        make_subscriber(f"w{n}@example.org")
    client = Client()
    client.force_login(coordinator)

    def close_connections(**kwargs: Any) -> None:
        connections.close_all()  # in the worker's thread, after each task

    task_postrun.connect(close_connections, weak=False)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1, shutdown_timeout=20):
            response = client.post(compose_url(incident), form_data(components, title="Orders fail"))
            assert response.status_code == 302
            deadline = time.monotonic() + DEADLINE_SECONDS
            while Delivery.objects.exclude(status="sent").exists() or not Delivery.objects.exists():
                assert time.monotonic() < deadline, list(Delivery.objects.values_list("status", flat=True))
                time.sleep(0.05)
    finally:
        task_postrun.disconnect(close_connections)
    assert sorted(m["To"] for m in smtp.messages) == [f"w{n}@example.org" for n in range(5)]
    batches = set(Delivery.objects.values_list("claimed_at", flat=True))
    assert len(batches) == 3  # 2 + 2 + 1


@pytest.mark.django_db
def test_a_retry_gives_only_the_failed_deliveries_another_round(
    smtp: SmtpServer, comms: User, incident: Incident, components: dict[str, Component]
) -> None:
    make_subscriber("good@example.org")
    make_subscriber("gone@example.org")
    smtp.refuse["gone@example.org"] = "550 5.1.1 No such mailbox"
    notice = Notice.objects.get(update=post(comms, incident, components))
    tasks.send_notice(notice.pk)
    del smtp.refuse["gone@example.org"]

    assert mailing.notice_retry_failed(notice.pk) == 1
    tasks.send_notice(notice.pk)

    assert _statuses(notice) == {"good@example.org": "sent", "gone@example.org": "sent"}
    assert len(smtp.to("good@example.org")) == 1  # a sent delivery is final: never mailed twice
    assert mailing.notice_retry_failed(notice.pk) == 0


def test_the_delivery_table_ends_in_sent_or_cancelled_and_only_failed_rows_go_back() -> None:
    table, Status = Delivery.TRANSITIONS, Delivery.Status
    assert table.is_final(Status.SENT)
    assert table.is_final(Status.CANCELLED)
    assert table.allowed(Status.FAILED) == {Status.PENDING}
    assert table.allowed(Status.PENDING) == {Status.SENDING}
