"""The links in mail to subscribers: absolute URLs, and the signed tokens of the confirmation and
unsubscribe links with the reads that check them (a link is the only authority a subscriber has).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import urlsafe_base64_encode

from apps.comms.models import Subscriber

CONFIRM_SALT = "comms.subscription.confirm"
UNSUBSCRIBE_SALT = "comms.subscription.unsubscribe"


class SubscriptionError(Exception):
    """A link that is broken, expired or already used."""


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def unsubscribe_token(subscriber: Subscriber) -> str:
    """A short signed token (the subscriber's id and 96 bits of HMAC): short, so that the
    List-Unsubscribe header holds the link on one line, as mail programs expect it."""
    return f"{subscriber.pk}.{_unsubscribe_mac(subscriber.pk)}"


def _unsubscribe_mac(subscriber_id: int) -> str:
    digest = salted_hmac(UNSUBSCRIBE_SALT, str(subscriber_id), algorithm="sha256").digest()[:12]
    return urlsafe_base64_encode(digest)


def subscriber_id_for_unsubscribe_token(token: str) -> int | None:
    """The subscriber id the token was made for, or None when it is not one of ours."""
    head, _, mac = token.partition(".")
    if not head.isdigit() or len(head) > 18:
        return None
    subscriber_id = int(head)
    return subscriber_id if constant_time_compare(mac, _unsubscribe_mac(subscriber_id)) else None


def unsubscribe_url(subscriber: Subscriber) -> str:
    return absolute(reverse("comms:unsubscribe", args=[unsubscribe_token(subscriber)]))


def confirm_token(subscriber: Subscriber) -> str:
    return signing.dumps({"s": subscriber.pk, "n": subscriber.confirm_nonce}, salt=CONFIRM_SALT)


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


def subscriber_for_unsubscribe_token(token: str) -> Subscriber | None:
    subscriber_id = subscriber_id_for_unsubscribe_token(token)
    if subscriber_id is None:
        raise SubscriptionError("This unsubscribe link is broken. Use the link of a recent mail.")
    return Subscriber.objects.filter(pk=subscriber_id).first()
