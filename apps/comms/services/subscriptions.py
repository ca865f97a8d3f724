"""Subscribing to public updates by mail: double opt-in and one-click unsubscribe (the links
themselves are in `apps.comms.links`, the rate limits of the public forms in `apps.comms.ratelimit`).

The answer to a subscription request never depends on whether the address is known: every
request ends in "check your inbox", and what happens next is in the mail, which only the owner of
the address reads. A request is held as *pending* choices until its confirmation link is
followed, so typing someone's address changes nothing of theirs. Only the newest link of an
address works, and only once.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.comms.links import (
    SubscriptionError,
    absolute,
    confirm_token,
    subscriber_for_confirm_token,
    subscriber_for_unsubscribe_token,
)
from apps.comms.models import Component, Subscriber
from apps.core.jobs import enqueue

# An address is sent at most one confirmation mail in this time, however often it is typed in.
RESEND_AFTER = timedelta(minutes=5)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def subscription_request(*, email: str, all_components: bool, component_codes: list[str]) -> None:
    """Ask the owner of `email` to confirm these choices. Says nothing about the address."""
    email = normalise_email(email)
    codes = sorted(set(Component.objects.filter(code__in=component_codes).values_list("code", flat=True)))
    now = timezone.now()
    with transaction.atomic():
        subscriber, _created = Subscriber.objects.select_for_update().get_or_create(
            email=email, defaults={"all_components": all_components, "created_at": now}
        )
        if subscriber.confirmation_sent_at and now - subscriber.confirmation_sent_at < RESEND_AFTER:
            # The mail sent a moment ago still holds a working link: no second mail, no change.
            return
        subscriber.pending_all_components = all_components or not codes
        subscriber.pending_component_codes = [] if subscriber.pending_all_components else codes
        subscriber.confirm_nonce = secrets.token_hex(16)
        subscriber.confirmation_sent_at = now
        subscriber.save(
            update_fields=["pending_all_components", "pending_component_codes", "confirm_nonce", "confirmation_sent_at"]
        )
        enqueue("comms.send_confirmation", subscriber.pk)


def confirmation_send(subscriber_id: int) -> bool:
    """Mail the confirmation link (the task's work). False when there is nothing to send."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).exclude(confirm_nonce="").first()
    if subscriber is None:
        return False
    chosen = list(Component.objects.filter(code__in=subscriber.pending_component_codes))
    context = {
        "subscriber": subscriber,
        "confirm": absolute(reverse("comms:confirm", args=[confirm_token(subscriber)])),
        "hours": settings.COMMS_CONFIRM_HOURS,
        "chosen": chosen,
        "page_name": settings.STATUS_PAGE_NAME,
        "status_url": absolute(reverse("comms:status")),
    }
    message = EmailMultiAlternatives(
        subject=f"[{settings.STATUS_PAGE_NAME}] Confirm your subscription to status updates",
        body=render_to_string("comms/mail/confirm.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(render_to_string("comms/mail/confirm.html", context), "text/html")
    mailers.default.send_messages([message])
    return True


def subscription_confirm(token: str) -> Subscriber:
    """Apply the choices the link was sent for and start the subscription."""
    with transaction.atomic():
        found = subscriber_for_confirm_token(token)
        subscriber = Subscriber.objects.select_for_update().get(pk=found.pk)
        if subscriber.confirm_nonce != found.confirm_nonce:  # confirmed a moment ago, in another tab
            raise SubscriptionError("This confirmation link was already used.")
        now = timezone.now()
        subscriber.all_components = subscriber.pending_all_components
        subscriber.components.set(Component.objects.filter(code__in=subscriber.pending_component_codes))
        subscriber.confirmed_at = now
        subscriber.unsubscribed_at = None
        subscriber.confirm_nonce = ""
        subscriber.save(update_fields=["all_components", "confirmed_at", "unsubscribed_at", "confirm_nonce"])
    return subscriber


def subscription_cancel(token: str) -> None:
    """Stop all mail to the link's subscriber (idempotent)."""
    subscriber = subscriber_for_unsubscribe_token(token)
    if subscriber is not None and subscriber.unsubscribed_at is None:
        Subscriber.objects.filter(pk=subscriber.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=timezone.now(), confirm_nonce=""
        )


def subscriptions_prune() -> int:
    """Forget addresses that never confirmed (they were typed in, not given)."""
    stale = timezone.now() - timedelta(hours=2 * settings.COMMS_CONFIRM_HOURS)
    deleted, _ = Subscriber.objects.filter(confirmed_at__isnull=True, created_at__lt=stale).delete()
    return deleted
