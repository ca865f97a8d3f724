"""Admins manage paging channels; a verification message's link marks its channel verified; a
page lists what needs verifying; admins get a quarterly reminder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.paging.models import Channel, VerificationReminder
from apps.paging.selectors import stale_channels
from apps.paging.tasks import send_verification_reminder
from tests.paging.conftest import People, add_channel
from tests.paging.servers import HttpServer, SmtpServer, text_of

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
VERIFY_LINK = "http://incidents.test/paging/verify/"


def verify_path(text: str) -> str:
    start = text.index(VERIFY_LINK)
    return "/paging/verify/" + text[start + len(VERIFY_LINK) :].split()[0]


def test_admins_see_channels_that_need_verifying(admin_client_: Client, people: People) -> None:
    Channel.objects.filter(contact=people.sysadmin).update(verified_at=datetime.now(UTC) - timedelta(days=91))
    Channel.objects.filter(contact=people.infra).update(verified_at=datetime.now(UTC) - timedelta(days=10))
    Channel.objects.filter(contact=people.pm).delete()
    page = admin_client_.get("/paging/channels/").content.decode()
    assert 'Needs verification <span class="count">5</span>' in page
    assert "Pat Manager (Project Manager) has no paging channel." in page
    assert {c.contact.name for c in stale_channels()} == {"Sam Sysadmin", "Dana Dba", "Terry Lead"}


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_only_admins_manage_channels(request: Any, client_name: str, people: People) -> None:
    client: Client = request.getfixturevalue(client_name)
    channel = people.dba.paging_channels.first()
    assert channel is not None
    assert client.get("/paging/channels/").status_code == 403
    assert client.post(f"/paging/contacts/{people.dba.pk}/channels/new/", {}).status_code == 403
    assert client.post(f"/paging/channels/{channel.pk}/verify/").status_code == 403
    assert client.post(f"/paging/channels/{channel.pk}/delete/").status_code == 403
    assert Channel.objects.filter(pk=channel.pk).exists()


def test_adding_a_channel_validates_the_address_for_its_kind(admin_client_: Client, people: People) -> None:
    url = f"/paging/contacts/{people.pm.pk}/channels/new/"
    cases = [
        ({"kind": "email", "address": "not-an-address", "priority": "secondary"}, "Enter an email address"),
        ({"kind": "sms", "address": "020 7946", "priority": "secondary"}, "international format"),
        (
            {"kind": "webhook", "address": "ftp://chat.example.com/hook", "priority": "secondary"},
            "incoming-webhook URL",
        ),
        ({"kind": "email", "address": "pat@example.com", "priority": "primary"}, "already has a primary channel"),
        ({"kind": "pigeon", "address": "x", "priority": "secondary"}, "Select a valid choice"),
    ]
    for data, error in cases:
        response = admin_client_.post(url, data)
        assert response.status_code == 400, data
        assert error in response.content.decode(), data
    ok = admin_client_.post(url, {"kind": "email", "address": " pat@example.com ", "priority": "secondary"})
    assert ok.status_code == 302
    assert people.pm.paging_channels.get(priority="secondary").address == "pat@example.com"


def test_changing_an_address_makes_the_channel_unverified(admin_client_: Client, people: People) -> None:
    channel = Channel.objects.get(contact=people.sysadmin)
    Channel.objects.filter(pk=channel.pk).update(verified_at=T0)
    url = f"/paging/contacts/{people.sysadmin.pk}/channels/{channel.pk}/"
    admin_client_.post(url, {"kind": "email", "address": "sam@example.com", "priority": "primary"})
    channel.refresh_from_db()
    assert channel.verified_at == T0
    admin_client_.post(url, {"kind": "email", "address": "sam.new@example.com", "priority": "primary"})
    channel.refresh_from_db()
    assert channel.verified_at is None


def test_a_verification_link_marks_the_channel_and_the_contact_verified(
    time_machine: Any, admin_client_: Client, people: People, smtp: SmtpServer, anonymous: Client
) -> None:
    time_machine.move_to(T0, tick=False)
    channel = Channel.objects.get(contact=people.sysadmin)
    response = admin_client_.post(f"/paging/channels/{channel.pk}/verify/", follow=True)
    assert "Verification sent to Sam Sysadmin" in response.content.decode()
    mail = smtp.wait_to("sam@example.com")[0]
    path = verify_path(text_of(mail))

    shown = anonymous.get(path)
    assert shown.status_code == 200
    assert "Confirm: this reaches me" in shown.content.decode()
    channel.refresh_from_db()
    assert channel.verified_at is None, "opening the link does not verify (mail scanners open links)"

    time_machine.shift(timedelta(hours=2))
    done = anonymous.post(path)
    assert "this channel is verified as of 2026-03-04" in done.content.decode()
    channel.refresh_from_db()
    people.sysadmin.refresh_from_db()
    assert channel.verified_at == T0 + timedelta(hours=2)
    assert people.sysadmin.last_verified_at == T0 + timedelta(hours=2)
    again = anonymous.post(path)
    assert "Already verified on 2026-03-04 11:00 UTC" in again.content.decode()


def test_verification_goes_through_webhooks_and_sms_too(
    admin_client_: Client, people: People, http: HttpServer
) -> None:
    webhook = Channel.objects.get(contact=people.pm)
    sms = Channel.objects.get(contact=people.lead, kind="sms")
    admin_client_.post(f"/paging/channels/{webhook.pk}/verify/")
    admin_client_.post(f"/paging/channels/{sms.pk}/verify/")
    assert "/paging/verify/" in http.wait_to("/ok/pat")[0].json()["text"]
    assert "/paging/verify/" in http.wait_to("/ok/sms")[0].json()["text"]


def test_a_failed_verification_message_is_reported(admin_client_: Client, people: People, smtp: SmtpServer) -> None:
    smtp.refuse.add("sam@example.com")
    channel = Channel.objects.get(contact=people.sysadmin)
    response = admin_client_.post(f"/paging/channels/{channel.pk}/verify/", follow=True)
    assert "failed: the mail server refused sam@example.com: 550" in response.content.decode()
    channel.refresh_from_db()
    assert channel.verification_outcome.startswith("failed:")


def test_bad_verification_links_are_refused(
    admin_client_: Client, people: People, smtp: SmtpServer, anonymous: Client, time_machine: Any
) -> None:
    time_machine.move_to(T0, tick=False)
    channel = Channel.objects.get(contact=people.sysadmin)
    admin_client_.post(f"/paging/channels/{channel.pk}/verify/")
    path = verify_path(text_of(smtp.wait_to("sam@example.com")[0]))

    assert anonymous.post(path[:-3] + "x/").status_code == 400
    Channel.objects.filter(pk=channel.pk).update(address="sam.other@example.com")
    changed = anonymous.post(path)
    assert changed.status_code == 404
    assert "address was changed" in changed.content.decode()
    Channel.objects.filter(pk=channel.pk).update(address="sam@example.com")
    time_machine.shift(timedelta(days=15))
    expired = anonymous.post(path)
    assert expired.status_code == 400
    assert "This link has expired." in expired.content.decode()
    channel.refresh_from_db()
    assert channel.verified_at is None


def test_contact_details_become_channels_on_request(admin_client_: Client, people: People) -> None:
    Channel.objects.filter(contact=people.dba).delete()
    response = admin_client_.post(f"/paging/contacts/{people.dba.pk}/channels/from-contact/", follow=True)
    assert response.status_code == 200
    assert list(people.dba.paging_channels.values_list("kind", "priority")) == [
        ("sms", "primary"),
        ("email", "secondary"),
    ]


def test_the_reminder_goes_to_admins_once_a_quarter(
    time_machine: Any, make_user: Any, people: People, smtp: SmtpServer
) -> None:
    time_machine.move_to(T0, tick=False)
    make_user(User.Role.ADMIN, username="ada", email="ada@example.com")
    make_user(User.Role.RESPONDER, username="rob", email="rob@example.com")
    assert send_verification_reminder() == "sent to 1 admins"
    mail = smtp.wait_to("ada@example.com")[0]
    assert "7 paging channels never verified" in text_of(mail)
    assert "http://incidents.test/paging/channels/" in text_of(mail)
    assert not smtp.to("rob@example.com")

    time_machine.shift(timedelta(days=90))
    assert send_verification_reminder() == "last reminder sent 2026-03-04"
    time_machine.shift(timedelta(days=2))
    assert send_verification_reminder() == "sent to 1 admins"
    assert VerificationReminder.objects.count() == 2
    assert len(smtp.to("ada@example.com")) == 2


def test_webhook_channels_may_be_removed(admin_client_: Client, people: People, http: HttpServer) -> None:
    channel = add_channel(people.sysadmin, Channel.Kind.WEBHOOK, f"{http.url}/ok/sam", Channel.Priority.SECONDARY)
    assert admin_client_.post(f"/paging/channels/{channel.pk}/delete/").status_code == 302
    assert not Channel.objects.filter(pk=channel.pk).exists()
