"""Subscribing by mail: double opt-in, one-click unsubscribe, rate limits, and nothing that tells
whether an address is already subscribed."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.comms import links, tasks
from apps.comms.models import Component, Subscriber
from tests.comms.conftest import make_subscriber

pytestmark = pytest.mark.django_db
SUBSCRIBE = "/status/subscribe/"
SENT = "If that address can receive mail, a message with a confirmation link is on its way."


def _subscribe(client: Client, email: str, ip: str = "198.51.100.7", **extra: Any) -> Any:
    return client.post(SUBSCRIBE, {"email": email, "scope": "all", **extra}, REMOTE_ADDR=ip)


def _confirmation_link(email: str) -> str:
    subscriber = Subscriber.objects.get(email=email)
    tasks.send_confirmation(subscriber.pk)  # what the worker runs
    message = mail.outbox[-1]
    assert message.to == [email]
    match = re.search(r"http://127\.0\.0\.1:8000(/status/subscribe/confirm/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_subscribing_asks_for_confirmation_first(
    components: dict[str, Component], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    client = Client()
    assert "Subscribe to updates" in client.get(SUBSCRIBE).content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = _subscribe(
            client,
            "Ada@Example.org",
            scope="chosen",
            components=[components["Database"].code, components["Email"].code],
        )
    assert response.status_code == 200
    assert SENT in response.content.decode()
    assert len(callbacks) == 1  # the confirmation mail is queued after commit
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "ada@example.org"
    assert not subscriber.is_active

    link = _confirmation_link("ada@example.org")
    assert "Database, Email" in mail.outbox[-1].body
    page = client.get(link)  # opening the link (or a mail scanner doing so) changes nothing
    assert "Confirm subscription" in page.content.decode()
    assert not Subscriber.objects.get().is_active

    done = client.post(link)
    assert done.status_code == 200
    assert "You are subscribed" in done.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.is_active
    assert not subscriber.all_components
    assert set(subscriber.components.values_list("name", flat=True)) == {"Database", "Email"}
    again = client.post(link)
    assert again.status_code == 400
    assert "already used" in again.content.decode()


def test_the_answer_is_the_same_for_a_known_address(components: dict[str, Component]) -> None:
    make_subscriber("known@example.org", all_components=False, components=[components["Website"]])
    known = _subscribe(Client(), "known@example.org", ip="198.51.100.1")
    unknown = _subscribe(Client(), "unknown@example.org", ip="198.51.100.2")
    assert known.status_code == unknown.status_code == 200

    def strip(html: str) -> str:
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    assert strip(known.content.decode()) == strip(unknown.content.decode())
    # Typing a subscribed address changes nothing of theirs until the owner confirms.
    known_subscriber = Subscriber.objects.get(email="known@example.org")
    assert not known_subscriber.all_components
    assert known_subscriber.is_active
    Client().post(_confirmation_link("known@example.org"))
    known_subscriber.refresh_from_db()
    assert known_subscriber.all_components


def test_only_the_newest_link_works_and_links_expire(components: dict[str, Component]) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _subscribe(Client(), "bo@example.org")
        first = _confirmation_link("bo@example.org")
        clock.shift(timedelta(minutes=6))  # a second request after the resend pause
        _subscribe(Client(), "bo@example.org", ip="198.51.100.8")
        second = _confirmation_link("bo@example.org")
        assert Client().post(first).status_code == 400
        clock.shift(timedelta(hours=49))
        expired = Client().post(second)
        assert expired.status_code == 400
        assert "expired" in expired.content.decode()
    assert not Subscriber.objects.get().is_active


def test_a_second_request_within_minutes_sends_no_second_mail(
    components: dict[str, Component], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        _subscribe(Client(), "cy@example.org", ip="198.51.100.3")
        _subscribe(Client(), "cy@example.org", ip="198.51.100.4")
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-address", "scope": "all"}, "Enter a valid email address."),
        ({"email": "", "scope": "all"}, "This field is required."),
        ({"email": "dee@example.org", "scope": "chosen"}, "Choose at least one component, or choose every update."),
        ({"email": "dee@example.org", "scope": "chosen", "components": ["nope"]}, "Select a valid choice."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    components: dict[str, Component], data: dict[str, Any], message: str
) -> None:
    response = Client().post(SUBSCRIBE, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Subscriber.objects.exists()


def test_a_flood_from_one_address_is_refused(components: dict[str, Component], settings: Any) -> None:
    settings.COMMS_SUBSCRIBE_PER_HOUR = 3
    for n in range(3):
        assert _subscribe(Client(), f"flood{n}@example.org", ip="203.0.113.9").status_code == 200
    refused = _subscribe(Client(), "flood9@example.org", ip="203.0.113.9")
    assert refused.status_code == 429
    assert "Too many subscription requests" in refused.content.decode()
    assert not Subscriber.objects.filter(email="flood9@example.org").exists()
    # Another client is not affected.
    assert _subscribe(Client(), "other@example.org", ip="203.0.113.10").status_code == 200


def test_behind_a_proxy_the_limit_follows_the_forwarded_address(
    components: dict[str, Component], settings: Any
) -> None:
    settings.COMMS_SUBSCRIBE_PER_HOUR = 1
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    first = Client().post(
        SUBSCRIBE, {"email": "a@example.org", "scope": "all"}, HTTP_X_FORWARDED_FOR="1.2.3.4", **proxy
    )
    other = Client().post(
        SUBSCRIBE, {"email": "b@example.org", "scope": "all"}, HTTP_X_FORWARDED_FOR="5.6.7.8", **proxy
    )
    forged = Client().post(
        SUBSCRIBE, {"email": "c@example.org", "scope": "all"}, HTTP_X_FORWARDED_FOR="9.9.9.9, 1.2.3.4", **proxy
    )
    assert (first.status_code, other.status_code, forged.status_code) == (200, 200, 429)


def test_one_click_unsubscribe_from_the_mail_header(components: dict[str, Component]) -> None:
    subscriber = make_subscriber("eve@example.org")
    token = links.unsubscribe_token(subscriber)
    url = reverse("comms:unsubscribe", args=[token])
    client = Client(enforce_csrf_checks=True)  # mail programs send no CSRF token (RFC 8058)
    assert "Unsubscribe" in client.get(url).content.decode()
    subscriber.refresh_from_db()
    assert subscriber.is_active  # opening the link is not unsubscribing

    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
    assert not subscriber.is_active
    assert client.post(url).status_code == 200  # idempotent
    assert Client().post(reverse("comms:unsubscribe", args=[token + "x"])).status_code == 400


def test_confirming_needs_the_csrf_token_of_the_page(components: dict[str, Component]) -> None:
    _subscribe(Client(), "fay@example.org")
    link = _confirmation_link("fay@example.org")
    assert Client(enforce_csrf_checks=True).post(link).status_code == 403
    assert not Subscriber.objects.get().is_active


def test_unconfirmed_addresses_are_forgotten(components: dict[str, Component]) -> None:
    from apps.comms.services.subscriptions import subscriptions_prune

    _subscribe(Client(), "gil@example.org")
    make_subscriber("kept@example.org")
    with time_machine.travel(timezone.now() + timedelta(days=5)):
        assert subscriptions_prune() == 1
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["kept@example.org"]
