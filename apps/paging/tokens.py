"""Signed links: acknowledge a page, verify a channel. Each is tied to what it is for, expires,
and works without signing in; a forged or altered link fails the signature check."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

ACK_SALT = "incidentcenter.paging.ack"
VERIFY_SALT = "incidentcenter.paging.verify"


class LinkError(Exception):
    """The link cannot be used; `expired` tells an old link from a broken one."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class AckClaim:
    page_id: int
    contact_id: int
    incident_id: int


def ack_token(*, page_id: int, contact_id: int, incident_id: int) -> str:
    return signing.dumps({"p": page_id, "c": contact_id, "i": incident_id}, salt=ACK_SALT, compress=False)


def ack_url(*, page_id: int, contact_id: int, incident_id: int) -> str:
    token = ack_token(page_id=page_id, contact_id=contact_id, incident_id=incident_id)
    return settings.SITE_URL + reverse("paging:ack", args=[incident_id, token])


def read_ack_token(token: str) -> AckClaim:
    payload = _load(token, ACK_SALT, timedelta(hours=settings.PAGING_ACK_LINK_HOURS))
    try:
        return AckClaim(page_id=int(payload["p"]), contact_id=int(payload["c"]), incident_id=int(payload["i"]))
    except (KeyError, TypeError, ValueError):
        raise LinkError("This acknowledgement link is not valid.") from None


def address_fingerprint(address: str) -> str:
    # A link verifies the address it was sent to: after an edit of the channel, old links fail.
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:16]


def verify_token(*, channel_id: int, address: str) -> str:
    return signing.dumps({"ch": channel_id, "a": address_fingerprint(address)}, salt=VERIFY_SALT, compress=False)


def verify_url(*, channel_id: int, address: str) -> str:
    return settings.SITE_URL + reverse("paging:verify", args=[verify_token(channel_id=channel_id, address=address)])


def read_verify_token(token: str) -> tuple[int, str]:
    """The channel id and address fingerprint the link was made for."""
    payload = _load(token, VERIFY_SALT, timedelta(days=settings.PAGING_VERIFY_LINK_DAYS))
    try:
        return int(payload["ch"]), str(payload["a"])
    except (KeyError, TypeError, ValueError):
        raise LinkError("This verification link is not valid.") from None


def _load(token: str, salt: str, max_age: timedelta) -> dict[str, Any]:
    try:
        payload = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkError("This link has expired.", expired=True) from None
    except signing.BadSignature:
        raise LinkError("This link is not valid: it may have been cut short or altered.") from None
    if not isinstance(payload, dict):
        raise LinkError("This link is not valid.")
    return payload
