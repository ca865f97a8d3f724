"""How a message reaches a contact: one transport per channel kind, behind a registry.

Email goes through Django's mail backend; chat webhooks and the SMS gateway through the one
outbound HTTP helper (`apps.core.outbound`: timeouts, a size limit, no redirects, and the
private-address guard). Each transport returns what happened in words and never raises for a
delivery problem, so the caller can record the outcome and try the next channel. A webhook or
gateway that answers anything but 2xx has not taken the message.

Private addresses: a webhook URL is entered by an admin on the site, so it is refused when it
points at a private or local address unless the deployment allows it (`OUTBOUND_ALLOW_PRIVATE`,
for a chat server on the internal network). The SMS gateway's URL comes from the deployment's own
environment (`PAGING_SMS_URL`), like its database URL, so an on-premises gateway is allowed.
"""

from __future__ import annotations

import json
import smtplib
import string
from dataclasses import dataclass
from typing import ClassVar, Protocol
from urllib.parse import quote_plus, urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from apps.contacts.phone import is_phone, normalise_phone
from apps.core import outbound
from apps.paging.models import Channel, DeliveryAttempt

Outcome = DeliveryAttempt.Outcome
USER_AGENT = "IncidentCenter-Paging/1"
# What is kept of a webhook's or gateway's answer: enough to say why it refused.
ANSWER_BYTES = 300


class Content(Protocol):
    """A message in every form a channel needs (email: subject, text and HTML; chat; SMS)."""

    @property
    def subject(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def html(self) -> str: ...
    @property
    def chat(self) -> str: ...
    @property
    def sms(self) -> str: ...


@dataclass(frozen=True)
class Message:
    """A message with every form written out."""

    subject: str
    text: str
    html: str
    chat: str
    sms: str


@dataclass(frozen=True)
class Result:
    outcome: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.SENT, Outcome.DELIVERED)


class Transport:
    """Sends a message to one address of its channel kind."""

    kind: ClassVar[str]

    def __init__(self, address: str) -> None:
        self.address = address

    def send(self, message: Content) -> Result:
        raise NotImplementedError


class EmailTransport(Transport):
    kind = Channel.Kind.EMAIL

    def send(self, message: Content) -> Result:
        address = self.address
        mail = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
        )
        mail.attach_alternative(message.html, "text/html")
        try:
            sent = mail.send()
        except smtplib.SMTPRecipientsRefused as exc:
            reasons = "; ".join(f"{code} {_text(reply)}" for code, reply in exc.recipients.values())
            return Result(Outcome.FAILED, f"the mail server refused {address}: {reasons}")
        except smtplib.SMTPResponseException as exc:
            return Result(Outcome.FAILED, f"the mail server answered {exc.smtp_code} {_text(exc.smtp_error)}")
        except TimeoutError:
            return Result(Outcome.FAILED, f"the mail server did not answer within {settings.MAIL_TIMEOUT_SECONDS} s")
        except (smtplib.SMTPException, OSError) as exc:
            return Result(Outcome.FAILED, f"mail not sent: {exc.__class__.__name__}: {exc}")
        if not sent:
            return Result(Outcome.FAILED, "the mail backend sent nothing")
        return Result(Outcome.SENT, f"accepted by the mail server for {address}")


class WebhookTransport(Transport):
    """Slack and Mattermost incoming webhooks both take `{"text": ...}`; Mattermost also `username`."""

    kind = Channel.Kind.WEBHOOK

    def send(self, message: Content) -> Result:
        body = json.dumps({"text": message.chat, "username": "Incident Center"}).encode()
        # Admin-entered: private addresses only where the deployment allows them.
        return post(self.address, body, content_type="application/json", allow_private=None)


class SmsTransport(Transport):
    kind = Channel.Kind.SMS

    def send(self, message: Content) -> Result:
        number = self.address
        if not settings.PAGING_SMS_URL:
            return Result(Outcome.FAILED, "no SMS gateway is configured (PAGING_SMS_URL)")
        if not is_phone(number):
            return Result(Outcome.FAILED, f"{number!r} is not a phone number")
        content_type = settings.PAGING_SMS_CONTENT_TYPE
        values = {"to": normalise_phone(number), "message": message.sms, "sender": settings.PAGING_SMS_SENDER}
        escaped = {key: _escape_for(content_type, value) for key, value in values.items()}
        body = string.Template(settings.PAGING_SMS_BODY_TEMPLATE).safe_substitute(escaped).encode()
        headers = {}
        if settings.PAGING_SMS_AUTH_HEADER:
            name, _, value = settings.PAGING_SMS_AUTH_HEADER.partition(":")
            headers[name.strip()] = value.strip()
        # The deployment's own gateway (its environment, not the site): an internal one is fine.
        return post(settings.PAGING_SMS_URL, body, content_type=content_type, headers=headers, allow_private=True)


TRANSPORTS: dict[str, type[Transport]] = {
    transport.kind: transport for transport in (EmailTransport, WebhookTransport, SmsTransport)
}


def send(kind: str, address: str, message: Content) -> Result:
    transport = TRANSPORTS.get(kind)
    if transport is None:
        return Result(Outcome.FAILED, f"unknown channel kind {kind!r}")
    return transport(address).send(message)


def _escape_for(content_type: str, value: str) -> str:
    if "json" in content_type:
        return json.dumps(value)[1:-1]
    if "x-www-form-urlencoded" in content_type:
        return quote_plus(value)
    return value


def post(
    url: str,
    body: bytes,
    *,
    content_type: str,
    headers: dict[str, str] | None = None,
    allow_private: bool | None = None,
) -> Result:
    """POST `body`; DELIVERED on 2xx, else FAILED with the status, the error or the timeout."""
    try:
        host = urlsplit(url).hostname or url
    except ValueError:
        host = url
    timeout = settings.PAGING_HTTP_TIMEOUT_SECONDS
    try:
        response = outbound.request(
            "POST",
            url,
            body=body,
            headers={"Content-Type": content_type, "User-Agent": USER_AGENT, **(headers or {})},
            timeout=timeout,
            max_bytes=ANSWER_BYTES,
            allow_private=allow_private,
        )
    except (outbound.InvalidURL, outbound.AddressRefused) as exc:
        return Result(Outcome.FAILED, str(exc))
    except TimeoutError:
        return Result(Outcome.FAILED, f"no answer from {host} within {timeout} s")
    except ConnectionRefusedError:
        return Result(Outcome.FAILED, f"{host} refused the connection")
    except outbound.OutboundError as exc:
        return Result(Outcome.FAILED, f"could not reach {host}: {exc}")
    except OSError as exc:
        return Result(Outcome.FAILED, f"could not reach {host}: {exc.__class__.__name__}: {exc}")
    if response.ok:
        return Result(Outcome.DELIVERED, f"HTTP {response.status} from {host}")
    answer = response.text().strip()
    reply = f": {answer[:200]}" if answer else ""
    return Result(Outcome.FAILED, f"HTTP {response.status} {response.reason} from {host}{reply}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
