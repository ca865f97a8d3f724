"""Delivering a page: the contact's primary channel first, then the secondary when the primary
fails. Every attempt is a row with its outcome, an entry in the incident's notification log and
an event on its timeline (`page_sent` or `page_failed`, referring to the page and the log entry);
a page that failed on every channel is shown on the incident and the board.

Network calls happen outside any transaction; the page is claimed first with a conditional
update (pending → sending), so two workers or the auditor never send the same page twice.
"""

from __future__ import annotations

import logging
import re

from django.db import transaction
from django.utils import timezone

from apps.contacts.models import Contact
from apps.contacts.phone import is_phone
from apps.incidents.events import event_record
from apps.incidents.live import announce_incident_changed
from apps.incidents.models import Component, EventKind, NotificationEntry
from apps.incidents.services import notification_record
from apps.paging import page_content, transports
from apps.paging.models import Channel, DeliveryAttempt, Escalation, Page

logger = logging.getLogger(__name__)

METHODS: dict[str, str] = {
    Channel.Kind.EMAIL: NotificationEntry.Method.EMAIL,
    Channel.Kind.WEBHOOK: NotificationEntry.Method.CHAT,
    Channel.Kind.SMS: NotificationEntry.Method.SMS,
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def channels_for(contact: Contact) -> list[Channel]:
    """The contact's channels, primary first. A contact without any gets them from its contact
    sheet fields the first time it is needed: an email address becomes an email channel, a phone
    number an SMS channel (a web address is a support portal, not a webhook, and is left out)."""
    found = list(Channel.objects.filter(contact=contact).order_by("priority"))
    if found:
        return found
    for priority, value in (
        (Channel.Priority.PRIMARY, contact.primary_contact),
        (Channel.Priority.SECONDARY, contact.secondary_contact),
    ):
        kind = _kind_of(value.strip())
        if kind:
            Channel.objects.get_or_create(
                contact=contact, priority=priority, defaults={"kind": kind, "address": value.strip()}
            )
    return list(Channel.objects.filter(contact=contact).order_by("priority"))


def _kind_of(value: str) -> str:
    if _EMAIL.match(value):
        return Channel.Kind.EMAIL
    if is_phone(value):
        return Channel.Kind.SMS
    return ""


def page_deliver(*, page_id: int) -> Page | None:
    """Send the page if nobody has yet; None when another worker has it or it is done."""
    now = timezone.now()
    claimable = Page.TRANSITIONS.sources(Page.State.SENDING)
    if not Page.objects.filter(pk=page_id, state__in=claimable).update(state=Page.State.SENDING, claimed_at=now):
        return None
    page = Page.objects.select_related("incident__declared_by", "escalation", "contact__role").get(pk=page_id)
    if page.escalation.state == Escalation.State.ACKNOWLEDGED or not page.incident.is_active:
        _finish(page, Page.State.CANCELLED)
        announce_incident_changed(page.incident_id)
        return page
    found = channels_for(page.contact) if page.contact is not None else []
    if not found:
        _no_channel(page)
        return page
    message = page_content.PageMessage(page, list(page.escalation.levels.all()))
    for index, channel in enumerate(found):
        fallback = index + 1 < len(found)
        if _attempt(page, channel, message, fallback=fallback).succeeded:
            return page
    with transaction.atomic():
        _finish(page, Page.State.FAILED)
        event_record(
            incident_id=page.incident_id,
            kind=EventKind.PAGE_FAILED,
            component=Component.ESCALATION,
            page=page,
            data={"recipient": page.recipient, "level": page.level, "every_channel": True},
        )
    return page


def _attempt(page: Page, channel: Channel, message: transports.Content, *, fallback: bool) -> DeliveryAttempt:
    attempt = DeliveryAttempt.objects.create(
        page=page,
        channel=channel,
        kind=channel.kind,
        address=channel.address,
        priority=channel.priority,
        started_at=timezone.now(),
    )
    try:
        result = transports.send(channel.kind, channel.address, message)
    except Exception as exc:
        # A sender bug must not leave the page half-sent: record it as a failure and move on.
        logger.exception("paging channel %s failed unexpectedly", channel.pk)
        result = transports.Result(DeliveryAttempt.Outcome.FAILED, f"internal error: {exc.__class__.__name__}")
    DeliveryAttempt.TRANSITIONS.check(attempt.outcome, result.outcome)
    attempt.outcome = result.outcome
    attempt.detail = result.detail[:500]
    attempt.finished_at = timezone.now()
    if result.ok:
        note = f"Automatic page, level {page.level}: {result.detail}"
    else:
        note = f"Automatic page, level {page.level}: FAILED: {result.detail}"
    data = {
        "recipient": page.recipient,
        "level": page.level,
        "channel": channel.kind,
        "address": channel.address,
        "priority": channel.priority,
        "attempt": attempt.pk,
    }
    with transaction.atomic():
        attempt.notification = notification_record(
            incident_id=page.incident_id,
            user=None,
            method=METHODS.get(channel.kind, NotificationEntry.Method.OTHER),
            contact=page.contact,
            recipient=page.recipient,
            notified_at=attempt.started_at,
            note=note[:500],
            ack_due_at=page.ack_due_at,
            record_event=False,
        )
        attempt.save(update_fields=["outcome", "detail", "finished_at", "notification"])
        if result.ok:
            _finish(page, Page.State.SENT)
            event_record(
                incident_id=page.incident_id,
                kind=EventKind.PAGE_SENT,
                component=Component.ESCALATION,
                page=page,
                notification=attempt.notification,
                data={**data, "outcome": result.outcome},
            )
        else:
            event_record(
                incident_id=page.incident_id,
                kind=EventKind.PAGE_FAILED,
                component=Component.ESCALATION,
                page=page,
                notification=attempt.notification,
                data={**data, "detail": attempt.detail, "fallback": fallback, "every_channel": False},
            )
    return attempt


def _no_channel(page: Page) -> None:
    with transaction.atomic():
        entry = notification_record(
            incident_id=page.incident_id,
            user=None,
            method=NotificationEntry.Method.OTHER,
            contact=page.contact,
            recipient=page.recipient,
            note="Automatic page FAILED: no email, webhook or phone number to page.",
            ack_due_at=page.ack_due_at,
            record_event=False,
        )
        _finish(page, Page.State.FAILED)
        event_record(
            incident_id=page.incident_id,
            kind=EventKind.PAGE_FAILED,
            component=Component.ESCALATION,
            page=page,
            notification=entry,
            data={"recipient": page.recipient, "level": page.level, "no_channel": True, "every_channel": True},
        )


def _finish(page: Page, state: str) -> None:
    """Record how the page ended (its table says whether it may). Callers pair it with an event
    or announce the change, so the incident's open pages refresh."""
    Page.TRANSITIONS.check(page.state, state)
    now = timezone.now()
    page.state = state
    page.finished_at = now
    if state == Page.State.SENT:
        page.sent_at = now
    page.save(update_fields=["state", "finished_at", "sent_at"])
