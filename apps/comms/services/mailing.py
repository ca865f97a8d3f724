"""Mail to subscribers: a notice per public update or maintenance announcement, a delivery row per
recipient, sent by Celery in batches over one SMTP connection, each outcome recorded.

A batch claims its rows with a conditional update (pending → sending), so a duplicate or
redelivered message never mails anyone twice. A failure is retried with a growing delay up to
`COMMS_MAIL_MAX_ATTEMPTS` times, then shown as failed (a recipient the server refuses outright
fails at once). A row left "sending" by a worker that died is handed back by the periodic sweep.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import transaction
from django.db.models import F, Min, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.comms.links import absolute, unsubscribe_url
from apps.comms.models import Delivery, MaintenanceWindow, Notice, Subscriber, Update, UpdateComponent
from apps.core.jobs import enqueue
from apps.core.markdown import render_markdown

logger = logging.getLogger(__name__)

Status = Delivery.Status

STUCK_AFTER = timedelta(minutes=10)


def _active_subscribers() -> Q:
    return Q(confirmed_at__isnull=False, unsubscribed_at__isnull=True)


def _move(rows: QuerySet[Delivery], source: str, target: str, **fields: Any) -> int:
    """Move those of `rows` still in `source` to `target`, in one conditional update (a row another
    worker moved meanwhile is left alone). Every change of a delivery's status goes through here,
    guarded by the transition table."""
    Delivery.TRANSITIONS.check(source, target)
    return rows.filter(status=source).update(status=target, **fields)


def notice_for_update(update: Update) -> Notice | None:
    """Freeze the mail of a public update and queue it for every subscriber it concerns: those
    of all updates, and those of any component the incident has named (None: nobody to mail)."""
    assert update.public_incident_id is not None
    named = set(
        UpdateComponent.objects.filter(update__public_incident_id=update.public_incident_id).values_list(
            "component_id", flat=True
        )
    )
    affected = [
        (row.component.name, row.get_new_state_display()) for row in update.affected.select_related("component")
    ]
    context = {
        "update": update,
        "affected": affected,
        "link": absolute(reverse("comms:public_incident", args=[update.public_incident.code]))
        if update.public_incident
        else absolute(reverse("comms:status")),
        "body_html": render_markdown(update.body),
    }
    recipients = Subscriber.objects.filter(_active_subscribers()).filter(
        Q(all_components=True) | Q(components__in=named)
    )
    subscriber_ids = list(recipients.values_list("pk", flat=True).distinct())
    if not subscriber_ids:
        return None
    notice = Notice.objects.create(
        kind=Notice.Kind.UPDATE,
        update=update,
        subject=f"[{settings.STATUS_PAGE_NAME}] {update.title}: {update.get_status_display()}",
        text_body=render_to_string("comms/mail/update.txt", context),
        html_body=render_to_string("comms/mail/update.html", context),
    )
    return _queue(notice, subscriber_ids)


def notice_for_maintenance(window: MaintenanceWindow) -> Notice | None:
    components = list(window.components.all())
    context = {
        "window": window,
        "components": components,
        "link": absolute(reverse("comms:status")),
        "body_html": render_markdown(window.body),
    }
    recipients = Subscriber.objects.filter(_active_subscribers()).filter(
        Q(all_components=True) | Q(components__in=components)
    )
    subscriber_ids = list(recipients.values_list("pk", flat=True).distinct())
    if not subscriber_ids:
        return None
    notice = Notice.objects.create(
        kind=Notice.Kind.MAINTENANCE,
        maintenance=window,
        subject=f"[{settings.STATUS_PAGE_NAME}] Scheduled maintenance: {window.title}",
        text_body=render_to_string("comms/mail/maintenance.txt", context),
        html_body=render_to_string("comms/mail/maintenance.html", context),
    )
    return _queue(notice, subscriber_ids)


def _queue(notice: Notice, subscriber_ids: list[int]) -> Notice:
    """A delivery row per recipient, and the first batch queued after commit."""
    now = timezone.now()
    Delivery.objects.bulk_create(
        (Delivery(notice=notice, subscriber_id=pk, next_attempt_at=now) for pk in subscriber_ids), batch_size=1000
    )
    _send_soon(notice.pk)
    return notice


def _send_soon(notice_id: int, countdown: float = 0) -> None:
    enqueue("comms.send_notice", notice_id, countdown=countdown)


def _claim(notice_id: int) -> list[int]:
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(notice_id=notice_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("pk")
            .values_list("pk", flat=True)[: settings.COMMS_MAIL_BATCH_SIZE]
        )
        if ids:
            _move(
                Delivery.objects.filter(pk__in=ids),
                Status.PENDING,
                Status.SENDING,
                claimed_at=now,
                attempts=F("attempts") + 1,
            )
    return ids


def notice_send_batch(notice_id: int) -> int:
    """Send the next batch of a notice's due deliveries; returns how many were tried. Queues the
    next batch (or the next retry) before returning."""
    ids = _claim(notice_id)
    if ids:
        deliveries = list(
            Delivery.objects.filter(pk__in=ids, status=Delivery.Status.SENDING).select_related("notice", "subscriber")
        )
        _send(deliveries)
    _follow_up(notice_id)
    return len(ids)


def _send(deliveries: list[Delivery]) -> None:
    connection = mailers.default
    try:
        connection.open()
    except Exception as exc:
        # The server cannot be reached: every row of the batch is a (retryable) failure.
        for delivery in deliveries:
            _record(delivery, error=f"{type(exc).__name__}: {exc}", permanent=False)
        return
    try:
        for delivery in deliveries:
            if not delivery.subscriber.is_active:
                _move(Delivery.objects.filter(pk=delivery.pk), Status.SENDING, Status.CANCELLED)
                continue
            try:
                connection.send_messages([message_for(delivery.notice, delivery.subscriber)])
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _text in exc.recipients.values()]
                _record(delivery, error=_refusal(exc), permanent=all(code >= 500 for code in codes))
            except Exception as exc:
                _record(delivery, error=f"{type(exc).__name__}: {exc}", permanent=False)
                # A broken connection would fail every following message: start a new one.
                _reopen(connection)
            else:
                _record(delivery, error="", permanent=False)
    finally:
        try:
            connection.close()
        except Exception:
            logger.warning("closing the mail connection failed", exc_info=True)


def _reopen(connection: object) -> None:
    try:
        connection.close()  # type: ignore[attr-defined]
        connection.open()  # type: ignore[attr-defined]
    except Exception:
        logger.warning("reopening the mail connection failed", exc_info=True)


def _refusal(exc: smtplib.SMTPRecipientsRefused) -> str:
    parts = []
    for code, text in exc.recipients.values():
        reply = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        parts.append(f"{code} {reply}")
    return "Refused by the mail server: " + "; ".join(parts)


def _record(delivery: Delivery, *, error: str, permanent: bool) -> None:
    now = timezone.now()
    rows = Delivery.objects.filter(pk=delivery.pk)
    if not error:
        _move(rows, Status.SENDING, Status.SENT, sent_at=now, last_error="")
        return
    if permanent or delivery.attempts >= settings.COMMS_MAIL_MAX_ATTEMPTS:
        _move(rows, Status.SENDING, Status.FAILED, last_error=error[:500])
        logger.warning("mail to subscriber %s failed for good: %s", delivery.subscriber_id, error)
        return
    delay = settings.COMMS_MAIL_RETRY_SECONDS * 2 ** (delivery.attempts - 1)
    _move(rows, Status.SENDING, Status.PENDING, next_attempt_at=now + timedelta(seconds=delay), last_error=error[:500])


def _follow_up(notice_id: int) -> None:
    now = timezone.now()
    due = Delivery.objects.filter(notice_id=notice_id, status=Delivery.Status.PENDING).aggregate(
        next=Min("next_attempt_at")
    )["next"]
    if due is not None:
        _send_soon(notice_id, countdown=max(0.0, (due - now).total_seconds()))


def message_for(notice: Notice, subscriber: Subscriber) -> EmailMultiAlternatives:
    """The notice for one subscriber, with their own unsubscribe link in the text and headers."""
    unsubscribe = unsubscribe_url(subscriber)
    context = {"notice": notice, "subscriber": subscriber, "unsubscribe": unsubscribe}
    message = EmailMultiAlternatives(
        subject=notice.subject,
        body=notice.text_body + render_to_string("comms/mail/footer.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(notice.html_body + render_to_string("comms/mail/footer.html", context), "text/html")
    return message


def deliveries_sweep() -> int:
    """Hand back rows a dead worker left "sending", and queue every notice with due rows (a lost
    Celery message costs a minute, never a mail). Returns how many notices were queued."""
    now = timezone.now()
    _move(Delivery.objects.filter(claimed_at__lt=now - STUCK_AFTER), Status.SENDING, Status.PENDING)
    notices = list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .values_list("notice_id", flat=True)
        .distinct()
    )
    for notice_id in notices:
        _send_soon(notice_id)
    return len(notices)


def notice_retry_failed(notice_id: int) -> int:
    """Give a notice's failed deliveries another full round of attempts."""
    count = _move(
        Delivery.objects.filter(notice_id=notice_id),
        Status.FAILED,
        Status.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
    )
    if count:
        _send_soon(notice_id)
    return count
