"""Delivering a page over real SMTP and HTTP: primary first, secondary when the primary fails
(an SMTP refusal, a 500, no answer in time); every attempt a row, a log entry and an event."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.incidents.models import EventKind, Incident, NotificationEntry, TimelineEvent
from apps.incidents.selectors import board
from apps.paging import transports
from apps.paging.models import Channel, DeliveryAttempt, Page
from apps.paging.services import delivery, escalation, responses
from tests.conftest import smtp_mailers
from tests.paging.conftest import People, add_channel, events, fire
from tests.paging.servers import HttpServer, SmtpServer, free_port, html_of, text_of

pytestmark = pytest.mark.django_db

Outcome = DeliveryAttempt.Outcome


def attempts(incident: Incident) -> list[tuple[str, str, str]]:
    return list(
        DeliveryAttempt.objects.filter(page__incident=incident)
        .order_by("started_at", "pk")
        .values_list("kind", "priority", "outcome")
    )


def page_of(incident: Incident) -> Page:
    return Page.objects.get(incident=incident)


@pytest.fixture
def dba_incident(declare: Callable[..., Incident], responder: User, people: People) -> Callable[[], Incident]:
    def run() -> Incident:
        incident = declare(responder, scenario="database_failure", severity="sev2", title="Primary database down")
        fire(incident)
        return incident

    return run


def test_an_email_page_has_a_plain_and_an_html_body(dba_incident: Callable[[], Incident], smtp: SmtpServer) -> None:
    incident = dba_incident()
    mail = smtp.wait_to("dana@example.com")[0]
    assert "ACKNOWLEDGE (stops the escalation): http://incidents.test/paging/ack/" in text_of(mail)
    assert "Acknowledge — I&#x27;m on it" in html_of(mail) or "Acknowledge — I'm on it" in html_of(mail)
    assert mail["Auto-Submitted"] == "auto-generated"
    assert attempts(incident) == [("email", "primary", Outcome.SENT)]
    assert page_of(incident).state == Page.State.SENT


def test_a_refused_mail_falls_back_to_the_webhook(
    dba_incident: Callable[[], Incident], smtp: SmtpServer, http: HttpServer
) -> None:
    smtp.refuse.add("dana@example.com")
    incident = dba_incident()
    post = http.wait_to("/ok/dana")[0]
    assert post.headers["Content-Type"] == "application/json"
    assert "Primary database down" in post.json()["text"]
    assert "/paging/ack/" in post.json()["text"]
    assert attempts(incident) == [("email", "primary", Outcome.FAILED), ("webhook", "secondary", Outcome.DELIVERED)]
    failed = DeliveryAttempt.objects.get(page__incident=incident, outcome=Outcome.FAILED)
    assert "refused dana@example.com: 550" in failed.detail
    log = NotificationEntry.objects.filter(incident=incident).order_by("pk")
    assert [entry.method for entry in log] == ["email", "chat"]
    assert "FAILED" in log[0].note
    page = page_of(incident)
    (failed_event,) = events(incident, EventKind.PAGE_FAILED)
    assert failed_event.page == page
    assert failed_event.notification == log[0]
    assert failed_event.data["channel"] == "email"
    assert failed_event.data["priority"] == "primary"
    assert failed_event.data["fallback"] is True
    assert failed_event.data["every_channel"] is False
    assert "refused dana@example.com: 550" in failed_event.data["detail"]
    assert "by email to dana@example.com (primary) FAILED" in failed_event.text
    assert failed_event.text.endswith("Trying the next channel.")
    (sent_event,) = events(incident, EventKind.PAGE_SENT)
    assert (sent_event.page, sent_event.notification) == (page, log[1])
    assert sent_event.data["channel"] == "webhook"
    assert sent_event.data["outcome"] == Outcome.DELIVERED


def test_a_webhook_answering_500_falls_back_to_the_secondary(
    dba_incident: Callable[[], Incident], people: People, http: HttpServer, smtp: SmtpServer
) -> None:
    Channel.objects.filter(contact=people.dba).delete()
    add_channel(people.dba, Channel.Kind.WEBHOOK, f"{http.url}/fail/dana")
    add_channel(people.dba, Channel.Kind.EMAIL, "dana@example.com", Channel.Priority.SECONDARY)
    incident = dba_incident()
    assert http.to("/fail/dana")
    assert smtp.wait_to("dana@example.com")
    failed = DeliveryAttempt.objects.get(page__incident=incident, outcome=Outcome.FAILED)
    assert failed.detail.startswith("HTTP 500 Internal Server Error from 127.0.0.1: internal error: boom")
    assert page_of(incident).state == Page.State.SENT


def test_a_gateway_that_hangs_past_the_timeout_falls_back_to_the_secondary(
    dba_incident: Callable[[], Incident], people: People, http: HttpServer, smtp: SmtpServer, settings: Any
) -> None:
    settings.PAGING_SMS_URL = f"{http.url}/hang/sms"
    Channel.objects.filter(contact=people.dba).delete()
    add_channel(people.dba, Channel.Kind.SMS, "+44 20 7946 0002")
    add_channel(people.dba, Channel.Kind.EMAIL, "dana@example.com", Channel.Priority.SECONDARY)
    started = time.monotonic()
    incident = dba_incident()
    assert time.monotonic() - started < 5
    assert http.to("/hang/sms")
    assert smtp.wait_to("dana@example.com")
    failed = DeliveryAttempt.objects.get(page__incident=incident, outcome=Outcome.FAILED)
    assert failed.detail == "no answer from 127.0.0.1 within 1 s"
    assert attempts(incident) == [("sms", "primary", Outcome.FAILED), ("email", "secondary", Outcome.SENT)]


def test_a_page_that_fails_on_every_channel_is_on_the_incident_and_the_board(
    dba_incident: Callable[[], Incident], people: People, http: HttpServer, smtp: SmtpServer, responder_client: Any
) -> None:
    Channel.objects.filter(contact=people.dba).delete()
    add_channel(people.dba, Channel.Kind.WEBHOOK, f"{http.url}/fail/dana")
    add_channel(people.dba, Channel.Kind.EMAIL, "dana@example.com", Channel.Priority.SECONDARY)
    smtp.refuse.add("dana@example.com")
    incident = dba_incident()
    assert page_of(incident).state == Page.State.FAILED
    row = next(r for r in board().active if r.incident.pk == incident.pk)
    assert "1 page failed on every channel" in row.overdue
    assert TimelineEvent.objects.filter(
        incident=incident, kind=EventKind.PAGE_FAILED, page=page_of(incident), data__every_channel=True
    ).exists()
    detail = responder_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Page to Dana Dba (Database Administrator) failed on every channel" in detail
    assert "PAGE FAILED on every channel: Dana Dba (Database Administrator) was not reached" in detail
    # The timeline links the page to its row in the paging panel.
    page_id = page_of(incident).pk
    assert f'<a href="/incidents/{incident.pk}/#paging-page-{page_id}" class="event-ref">page #{page_id}</a>' in detail
    assert f'id="paging-page-{page_id}"' in detail
    board_page = responder_client.get("/").content.decode()
    assert "1 page failed on every channel" in board_page


def test_the_sms_body_follows_the_gateways_template(
    settings: Any, http: HttpServer, people: People, dba_incident: Callable[[], Incident]
) -> None:
    settings.PAGING_SMS_CONTENT_TYPE = "application/x-www-form-urlencoded"
    settings.PAGING_SMS_BODY_TEMPLATE = "To=$to&From=$sender&Body=$message"
    settings.PAGING_SMS_SENDER = "Ops Desk"
    message = transports.Message(subject="", text="", html="", chat="", sms='Disk "full" & more')
    result = transports.SmsTransport("+44 (0)20 7946-0003").send(message)
    assert result.ok
    assert result.outcome == Outcome.DELIVERED
    assert http.to("/ok/sms")[0].body == b"To=%2B4402079460003&From=Ops+Desk&Body=Disk+%22full%22+%26+more"


def test_sms_without_a_gateway_fails_clearly(settings: Any) -> None:
    settings.PAGING_SMS_URL = ""
    result = transports.SmsTransport("+44 20 7946 0003").send(transports.Message("", "", "", "", "hi"))
    assert not result.ok
    assert result.detail == "no SMS gateway is configured (PAGING_SMS_URL)"


def test_an_unreachable_mail_server_fails_clearly(settings: Any) -> None:
    settings.MAILERS = smtp_mailers(free_port())
    result = transports.EmailTransport("dana@example.com").send(transports.Message("s", "t", "<p>t</p>", "", ""))
    assert not result.ok
    assert "mail not sent: ConnectionRefusedError" in result.detail


def test_only_http_urls_are_posted_to() -> None:
    result = transports.post("file:///etc/passwd", b"{}", content_type="application/json")
    assert not result.ok
    assert result.detail == "not an http(s) URL"


def test_a_contact_without_channels_is_paged_through_its_contact_sheet_details(
    declare: Callable[..., Incident], responder: User, people: People, http: HttpServer
) -> None:
    Channel.objects.filter(contact=people.dba).delete()
    Contact.objects.filter(pk=people.dba.pk).update(
        primary_contact="+44 20 7946 0002", secondary_contact="dana@example.com"
    )
    incident = declare(responder, scenario="database_failure", severity="sev2")
    fire(incident)
    assert http.wait_to("/ok/sms")[0].json()["to"] == "+442079460002"
    assert list(people.dba.paging_channels.values_list("kind", "priority")) == [
        ("sms", "primary"),
        ("email", "secondary"),
    ]


def test_a_contact_with_no_way_to_reach_them_is_a_failed_page(
    declare: Callable[..., Incident], responder: User, people: People
) -> None:
    Channel.objects.filter(contact=people.dba).delete()
    Contact.objects.filter(pk=people.dba.pk).update(primary_contact="https://portal.example.com", secondary_contact="")
    incident = declare(responder, scenario="database_failure", severity="sev2")
    fire(incident)
    page = page_of(incident)
    assert page.state == Page.State.FAILED
    (failed,) = events(incident, EventKind.PAGE_FAILED)
    assert failed.page == page
    assert failed.notification == NotificationEntry.objects.get(incident=incident)
    assert failed.data["no_channel"] is True
    assert failed.text.startswith("PAGE FAILED: Dana Dba (Database Administrator) has no paging")


def test_a_page_is_delivered_once_however_often_it_is_asked(
    dba_incident: Callable[[], Incident], smtp: SmtpServer
) -> None:
    incident = dba_incident()
    page = page_of(incident)
    assert delivery.page_deliver(page_id=page.pk) is None
    assert len(smtp.wait_to("dana@example.com")) == 1


def test_a_page_not_yet_sent_when_someone_acknowledged_is_not_sent(
    declare: Callable[..., Incident], responder: User, people: People, smtp: SmtpServer
) -> None:
    incident = declare(responder, scenario="database_failure", severity="sev2")
    step_id = Incident.objects.get(pk=incident.pk).escalation.active_step_id  # type: ignore[attr-defined]
    outcome = escalation.step_run(step_id=step_id)
    responses.escalation_acknowledge(incident_id=incident.pk, user=responder, via="on the incident page")
    delivery.page_deliver(page_id=outcome.page_ids[0])
    assert page_of(incident).state == Page.State.CANCELLED
    assert not smtp.to("dana@example.com")


def test_every_channel_kind_has_a_transport() -> None:
    assert set(transports.TRANSPORTS) == set(Channel.Kind.values)
    result = transports.send("pigeon", "roof", transports.Message("", "", "", "", ""))
    assert (result.ok, result.detail) == (False, "unknown channel kind 'pigeon'")


def test_a_webhook_on_a_private_address_is_refused_unless_the_deployment_allows_it(
    settings: Any, dba_incident: Callable[[], Incident], people: People, http: HttpServer, smtp: SmtpServer
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    Channel.objects.filter(contact=people.dba).delete()
    add_channel(people.dba, Channel.Kind.WEBHOOK, f"{http.url}/ok/dana")
    add_channel(people.dba, Channel.Kind.EMAIL, "dana@example.com", Channel.Priority.SECONDARY)
    incident = dba_incident()
    assert not http.to("/ok/dana"), "nothing was sent to 127.0.0.1"
    assert smtp.wait_to("dana@example.com")
    failed = DeliveryAttempt.objects.get(page__incident=incident, outcome=Outcome.FAILED)
    assert failed.detail.startswith("127.0.0.1 is a private or local address")
    assert attempts(incident) == [("webhook", "primary", Outcome.FAILED), ("email", "secondary", Outcome.SENT)]


def test_the_sms_gateway_of_the_deployment_may_be_on_a_private_address(settings: Any, http: HttpServer) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    result = transports.SmsTransport("+44 20 7946 0003").send(transports.Message("", "", "", "", "hi"))
    assert result.ok, result.detail
    assert http.to("/ok/sms")


def test_a_page_and_its_attempts_follow_their_transition_tables(dba_incident: Callable[[], Incident]) -> None:
    attempts_table = DeliveryAttempt.TRANSITIONS
    assert attempts_table.allowed(Outcome.SENDING) == {Outcome.SENT, Outcome.DELIVERED, Outcome.FAILED}
    assert all(attempts_table.is_final(o) for o in (Outcome.SENT, Outcome.DELIVERED, Outcome.FAILED))
    assert Page.TRANSITIONS.allowed(Page.State.PENDING) == {Page.State.SENDING}
    incident = dba_incident()
    page = page_of(incident)
    assert page.state == Page.State.SENT
    assert Page.TRANSITIONS.is_final(page.state)
    # A finished page cannot be claimed again: the claim asks the table which states it may come from.
    Page.objects.filter(pk=page.pk).update(state=Page.State.FAILED)
    assert delivery.page_deliver(page_id=page.pk) is None
