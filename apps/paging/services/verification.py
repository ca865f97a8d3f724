"""Channels and their verification (the procedures: "verify emergency contact information is
current", in the quarterly drills). An admin sends a verification message through a channel; the
contact's link marks that channel verified; admins are reminded every quarter. (The lists of what
needs verifying are reads: `apps.paging.selectors`.)"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.contacts.services import contact_mark_verified
from apps.paging import page_content, tokens, transports
from apps.paging.models import Channel, VerificationReminder
from apps.paging.selectors import contacts_without_channels, stale_channels

logger = logging.getLogger(__name__)


class VerificationError(Exception):
    """The link cannot verify the channel; the message says why."""


def channel_save(*, channel: Channel) -> Channel:
    """Save a channel; a changed address is not verified any more."""
    if channel.pk:
        old = Channel.objects.filter(pk=channel.pk).values_list("kind", "address").first()
        if old is not None and old != (channel.kind, channel.address):
            channel.verified_at = None
            channel.verification_sent_at = None
            channel.verification_outcome = ""
    channel.save()
    return channel


def channel_delete(*, channel: Channel) -> None:
    """Remove a channel; pages already sent through it keep their attempts (the channel is unset)."""
    channel.delete()


def channel_send_verification(*, channel_id: int) -> transports.Result:
    """Send the verification message now and remember when and how it went."""
    channel = Channel.objects.select_related("contact__role").get(pk=channel_id)
    result = transports.send(channel.kind, channel.address, page_content.verification_message(channel))
    outcome = "sent" if result.ok else "failed"
    Channel.objects.filter(pk=channel.pk).update(
        verification_sent_at=timezone.now(), verification_outcome=f"{outcome}: {result.detail}"[:300]
    )
    return result


def channel_for_token(token: str) -> Channel:
    """The channel a verification link is for; `tokens.LinkError` for a bad or expired link,
    `VerificationError` for a link of a channel that was removed or changed since."""
    channel_id, fingerprint = tokens.read_verify_token(token)
    channel = Channel.objects.select_related("contact__role").filter(pk=channel_id).first()
    if channel is None:
        raise VerificationError("This channel was removed from the contact sheet since the link was sent.")
    if tokens.address_fingerprint(channel.address) != fingerprint:
        raise VerificationError("This channel's address was changed since the link was sent: ask for a new link.")
    return channel


def channel_verify(*, token: str) -> tuple[Channel, bool]:
    """Mark the link's channel verified today, and its contact's details current. Returns the
    channel and whether this use verified it (False: it had been verified through this link already)."""
    with transaction.atomic():
        channel = channel_for_token(token)
        channel = Channel.objects.select_for_update().select_related("contact__role").get(pk=channel.pk)
        sent = channel.verification_sent_at
        if channel.verified_at is not None and (sent is None or channel.verified_at >= sent):
            return channel, False
        channel.verified_at = timezone.now()
        channel.save(update_fields=["verified_at"])
        contact_mark_verified(contact=channel.contact)
    return channel, True


@dataclass(frozen=True)
class ReminderOutcome:
    sent: bool
    reason: str


def verification_reminder_send() -> ReminderOutcome:
    """Mail the admins the channels that need verifying, once every `PAGING_VERIFY_REMINDER_DAYS`.
    The last reminder's date is in the database: checking often sends it once."""
    now = timezone.now()
    with transaction.atomic():
        last = VerificationReminder.objects.select_for_update().first()
        if last is not None and last.sent_at > now - timedelta(days=settings.PAGING_VERIFY_REMINDER_DAYS):
            return ReminderOutcome(False, f"last reminder sent {last.sent_at:%Y-%m-%d}")
        admins = list(
            User.objects.filter(is_active=True)
            .filter(Q(role=User.Role.ADMIN) | Q(is_superuser=True))
            .exclude(email="")
            .values_list("email", flat=True)
        )
        if not admins:
            return ReminderOutcome(False, "no admin with an email address")
        stale = stale_channels()
        context = {
            "stale": stale,
            "without_channels": contacts_without_channels(),
            "verify_days": settings.CONTACT_VERIFY_DAYS,
            "overview_url": settings.SITE_URL + reverse("paging:channels"),
        }
        mail = EmailMultiAlternatives(
            subject="Incident Center: quarterly check of the emergency contact information",
            body=render_to_string("paging/messages/reminder.txt", context).strip(),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=sorted(set(admins)),
        )
        mail.send()
        VerificationReminder.objects.create(
            sent_at=now, recipients=", ".join(sorted(set(admins))), stale_channels=len(stale)
        )
    logger.info("verification reminder sent to %d admins (%d stale channels)", len(admins), len(stale))
    return ReminderOutcome(True, f"sent to {len(admins)} admins")
