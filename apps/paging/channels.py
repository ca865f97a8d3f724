"""Senders: email through Django's mail backend, chat webhooks, SMS through an HTTP gateway.

Each returns what happened in words; none raises for a delivery problem, so the caller can record
the outcome and try the next channel. HTTP goes through `http.client` with a timeout and follows
no redirects: a webhook or gateway that answers anything but 2xx has not taken the message.
"""

from __future__ import annotations

import http.client
import json
import re
import smtplib
import ssl
import string
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote_plus, urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from apps.paging.models import Channel, DeliveryAttempt

Outcome = DeliveryAttempt.Outcome
USER_AGENT = "IncidentCenter-Paging/1"
_PHONE = re.compile(r"^\+?[0-9 ()./-]{5,30}$")


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


def send(kind: str, address: str, message: Content) -> Result:
    if kind == Channel.Kind.EMAIL:
        return send_email(address, message)
    if kind == Channel.Kind.WEBHOOK:
        return send_webhook(address, message)
    if kind == Channel.Kind.SMS:
        return send_sms(address, message)
    return Result(Outcome.FAILED, f"unknown channel kind {kind!r}")


def send_email(address: str, message: Content) -> Result:
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
        return Result(Outcome.FAILED, f"the mail server did not answer within {settings.EMAIL_TIMEOUT} s")
    except (smtplib.SMTPException, OSError) as exc:
        return Result(Outcome.FAILED, f"mail not sent: {exc.__class__.__name__}: {exc}")
    if not sent:
        return Result(Outcome.FAILED, "the mail backend sent nothing")
    return Result(Outcome.SENT, f"accepted by the mail server for {address}")


def send_webhook(url: str, message: Content) -> Result:
    """Slack and Mattermost incoming webhooks both take `{"text": ...}`; Mattermost also `username`."""
    body = json.dumps({"text": message.chat, "username": "Incident Center"}).encode()
    return post(url, body, content_type="application/json")


def normalise_phone(number: str) -> str:
    return re.sub(r"[^0-9+]", "", number)


def send_sms(number: str, message: Content) -> Result:
    if not settings.PAGING_SMS_URL:
        return Result(Outcome.FAILED, "no SMS gateway is configured (PAGING_SMS_URL)")
    if not _PHONE.match(number):
        return Result(Outcome.FAILED, f"{number!r} is not a phone number")
    content_type = settings.PAGING_SMS_CONTENT_TYPE
    values = {"to": normalise_phone(number), "message": message.sms, "sender": settings.PAGING_SMS_SENDER}
    escaped = {key: _escape_for(content_type, value) for key, value in values.items()}
    body = string.Template(settings.PAGING_SMS_BODY_TEMPLATE).safe_substitute(escaped).encode()
    headers = {}
    if settings.PAGING_SMS_AUTH_HEADER:
        name, _, value = settings.PAGING_SMS_AUTH_HEADER.partition(":")
        headers[name.strip()] = value.strip()
    return post(settings.PAGING_SMS_URL, body, content_type=content_type, headers=headers)


def _escape_for(content_type: str, value: str) -> str:
    if "json" in content_type:
        return json.dumps(value)[1:-1]
    if "x-www-form-urlencoded" in content_type:
        return quote_plus(value)
    return value


def post(url: str, body: bytes, *, content_type: str, headers: dict[str, str] | None = None) -> Result:
    """POST `body`; DELIVERED on 2xx, else FAILED with the status, the error or the timeout."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Result(Outcome.FAILED, "not an http(s) URL")
    timeout = settings.PAGING_HTTP_TIMEOUT_SECONDS
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    all_headers = {"Content-Type": content_type, "User-Agent": USER_AGENT, **(headers or {})}
    try:
        connection.request("POST", path, body=body, headers=all_headers)
        response = connection.getresponse()
        answer = response.read(300).decode("utf-8", "replace").strip()
    except TimeoutError:
        return Result(Outcome.FAILED, f"no answer from {parts.hostname} within {timeout} s")
    except ConnectionRefusedError:
        return Result(Outcome.FAILED, f"{parts.hostname} refused the connection")
    except (OSError, http.client.HTTPException) as exc:
        return Result(Outcome.FAILED, f"could not reach {parts.hostname}: {exc.__class__.__name__}: {exc}")
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return Result(Outcome.DELIVERED, f"HTTP {response.status} from {parts.hostname}")
    reply = f": {answer[:200]}" if answer else ""
    return Result(Outcome.FAILED, f"HTTP {response.status} {response.reason} from {parts.hostname}{reply}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
