"""Subscribing to public updates by mail: double opt-in, one-click unsubscribe, rate limits.

The answer to a subscription request never depends on whether the address is known: every
request ends in "check your inbox", and what happens next is in the mail, which only the owner of
the address reads. A request is held as *pending* choices until its confirmation link is
followed, so typing someone's address changes nothing of theirs. Only the newest link of an
address works, and only once.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.comms.mailing import absolute, subscriber_id_for_unsubscribe_token
from apps.comms.models import Component, Subscriber
from apps.core.dispatch import enqueue

CONFIRM_SALT = "comms.subscription.confirm"
# An address is sent at most one confirmation mail in this time, however often it is typed in.
RESEND_AFTER = timedelta(minutes=5)


class SubscriptionError(Exception):
    """A link that is broken, expired or already used."""


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
        from apps.comms.tasks import send_confirmation

        enqueue(send_confirmation, subscriber.pk)


def confirm_token(subscriber: Subscriber) -> str:
    return signing.dumps({"s": subscriber.pk, "n": subscriber.confirm_nonce}, salt=CONFIRM_SALT)


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


def subscriber_for_confirm_token(token: str) -> Subscriber:
    """The subscriber a confirmation link belongs to, if it is still valid."""
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=settings.COMMS_CONFIRM_HOURS * 3600)
        subscriber_id, nonce = int(data["s"]), str(data["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise SubscriptionError("This confirmation link is broken or has expired. Subscribe again.") from None
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None or not nonce or subscriber.confirm_nonce != nonce:
        raise SubscriptionError(
            "This confirmation link was already used or replaced by a newer one. Use the newest mail, "
            "or subscribe again."
        )
    return subscriber


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


def subscriber_for_unsubscribe_token(token: str) -> Subscriber | None:
    subscriber_id = subscriber_id_for_unsubscribe_token(token)
    if subscriber_id is None:
        raise SubscriptionError("This unsubscribe link is broken. Use the link of a recent mail.")
    return Subscriber.objects.filter(pk=subscriber_id).first()


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


def client_ip(request: HttpRequest) -> str:
    """The client's address: behind a proxy (BEHIND_PROXY), the one the proxy appended to
    X-Forwarded-For, which the client cannot forge; otherwise the socket's peer."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return str(hops[-1])
    return str(request.META.get("REMOTE_ADDR", "unknown"))


def rate_limited(request: HttpRequest, scope: str, per_hour: int) -> bool:
    """Count this request against its client address; True once the hour's allowance is spent."""
    window = int(time.time() // 3600)
    key = f"comms:rate:{scope}:{client_ip(request)}:{window}"
    cache.add(key, 0, timeout=3700)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=3700)
        count = 1
    return count > per_hour
