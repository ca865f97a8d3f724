"""The contact sheet: who to call, in escalation order, readable by every role and printable.
Contacts never verified or verified more than 90 days ago say "needs verification"."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.contacts.models import Contact, ContactRole, EscalationLevel
from apps.contacts.services import contact_mark_verified
from tests.contacts.helpers import section, table_row
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

URL = reverse("contacts:sheet")


@pytest.fixture
def staffed(path: list[EscalationLevel]) -> dict[str, Contact]:
    """One or two contacts for each level of the seed's path."""
    by_role = {level.role.name: level.role for level in path}
    return {
        "ada": ContactFactory(role=by_role["System Administrator"], name="Ada Sysadmin"),
        "ben": ContactFactory(
            role=by_role["System Administrator"], name="Ben Backup", primary_contact="ben@example.com"
        ),
        "dora": ContactFactory(role=by_role["Database Administrator"], name="Dora DBA"),
        "tim": ContactFactory(role=by_role["Technical Lead"], name="Tim Lead"),
        "pam": ContactFactory(role=by_role["Project Manager"], name="Pam Manager"),
        "hal": ContactFactory(
            role=by_role["Infrastructure Provider"], name="Hal Hosting", primary_contact="https://support.example.net"
        ),
    }


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client", "admin_client_"])
def test_every_role_reads_the_contact_sheet(
    request: pytest.FixtureRequest, client_name: str, staffed: dict[str, Contact]
) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    for contact in staffed.values():
        assert contact.name in html


def test_anonymous_visitor_is_sent_to_sign_in(client: Client, staffed: dict[str, Contact]) -> None:
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


def test_it_is_printable(responder_client: Client, staffed: dict[str, Contact]) -> None:
    html = responder_client.get(URL).content.decode()

    assert '<link rel="stylesheet" href="/static/css/print.css" media="print">' in html
    assert '<button type="button" class="button" data-print>Print</button>' in html
    assert 'class="no-print"' in html


def test_the_escalation_path_is_in_order_with_each_levels_contacts(
    responder_client: Client, staffed: dict[str, Contact]
) -> None:
    html = section(responder_client.get(URL).content.decode(), "Escalation path")

    levels = html.split("<strong>")[1:]
    assert [level.split("</strong>")[0] for level in levels] == [
        "System Administrator",
        "Database Administrator",
        "Technical Lead",
        "Project Manager",
        "Infrastructure Provider",
    ]
    assert "Ada Sysadmin — +44 20 7946 0999" in levels[0]
    assert "Ben Backup — ben@example.com" in levels[0]
    assert levels[0].index("Ada Sysadmin") < levels[0].index("Ben Backup")
    assert "Dora DBA" in levels[1]
    assert "Dora DBA" not in levels[0]
    assert "Tim Lead" in levels[2]
    assert "Pam Manager" in levels[3]
    assert "Hal Hosting — https://support.example.net" in levels[4]
    assert "(wait 15 min for an answer)" in levels[0]
    assert "(wait 30 min for an answer)" in levels[4]


def test_the_path_follows_an_admins_reordering(responder_client: Client, staffed: dict[str, Contact]) -> None:
    EscalationLevel.objects.filter(role__name="System Administrator").update(position=99)
    EscalationLevel.objects.filter(role__name="Infrastructure Provider").update(position=1)
    EscalationLevel.objects.filter(position=99).update(position=5)

    html = section(responder_client.get(URL).content.decode(), "Escalation path")

    assert html.index("<strong>Infrastructure Provider</strong>") < html.index(
        "<strong>Database Administrator</strong>"
    )
    assert html.index("<strong>Project Manager</strong>") < html.index("<strong>System Administrator</strong>")


def test_a_level_without_contacts_says_so(responder_client: Client, path: list[EscalationLevel]) -> None:
    html = section(responder_client.get(URL).content.decode(), "Escalation path")

    assert html.count("No contact for this role.") == 5


def test_an_empty_path_says_so(responder_client: Client) -> None:
    html = responder_client.get(URL).content.decode()

    assert "The escalation path is empty." in html
    assert "No contacts yet." in html


def test_contact_details_are_links_a_responder_can_use(responder_client: Client, staffed: dict[str, Contact]) -> None:
    html = section(responder_client.get(URL).content.decode(), "Contacts")

    assert '<a href="tel:+442079460999">+44 20 7946 0999</a>' in table_row(html, "Dora DBA")
    assert '<a href="mailto:ben@example.com">ben@example.com</a>' in table_row(html, "Ben Backup")
    assert '<a href="https://support.example.net" rel="noopener noreferrer">' in table_row(html, "Hal Hosting")


def test_a_contact_never_verified_needs_verification(responder_client: Client, staffed: dict[str, Contact]) -> None:
    html = section(responder_client.get(URL).content.decode(), "Contacts")

    row = table_row(html, "Dora DBA")
    assert "never" in row
    assert "needs verification" in row
    assert 'class="stale"' in row


def test_a_contact_verified_more_than_90_days_ago_needs_verification(
    responder_client: Client, staffed: dict[str, Contact]
) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=91), tick=False):
        contact_mark_verified(contact=staffed["dora"])
        verified_on = f"{timezone.now():%Y-%m-%d}"

    html = section(responder_client.get(URL).content.decode(), "Contacts")

    row = table_row(html, "Dora DBA")
    assert verified_on in row
    assert "needs verification" in row
    assert Contact.objects.stale().filter(pk=staffed["dora"].pk).exists()


def test_a_contact_verified_within_90_days_does_not(responder_client: Client, staffed: dict[str, Contact]) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=89), tick=False):
        contact_mark_verified(contact=staffed["dora"])

    html = section(responder_client.get(URL).content.decode(), "Contacts")

    row = table_row(html, "Dora DBA")
    assert "needs verification" not in row
    assert 'class=""' in row
    assert "needs verification" in table_row(html, "Tim Lead")
    assert not Contact.objects.stale().filter(pk=staffed["dora"].pk).exists()


def test_a_contact_becomes_stale_once_90_days_pass(staffed: dict[str, Contact]) -> None:
    contact_mark_verified(contact=staffed["dora"])
    assert not staffed["dora"].needs_verification

    with time_machine.travel(timezone.now() + timedelta(days=90, minutes=1), tick=False):
        assert staffed["dora"].needs_verification
        assert Contact.objects.stale().filter(pk=staffed["dora"].pk).exists()


def test_a_responder_sees_no_editing_controls(responder_client: Client, staffed: dict[str, Contact]) -> None:
    html = responder_client.get(URL).content.decode()

    assert reverse("contacts:create") not in html
    assert reverse("contacts:edit", args=[staffed["dora"].pk]) not in html
    assert reverse("contacts:verify", args=[staffed["dora"].pk]) not in html
    assert reverse("contacts:delete", args=[staffed["dora"].pk]) not in html
    assert reverse("contacts:escalation") not in html


def test_an_admin_sees_editing_controls_for_each_contact(admin_client_: Client, staffed: dict[str, Contact]) -> None:
    html = admin_client_.get(URL).content.decode()

    assert reverse("contacts:create") in html
    assert reverse("contacts:escalation") in html
    row = table_row(html, "Dora DBA")
    assert reverse("contacts:edit", args=[staffed["dora"].pk]) in row
    assert reverse("contacts:verify", args=[staffed["dora"].pk]) in row
    assert reverse("contacts:delete", args=[staffed["dora"].pk]) in row


def test_contacts_of_roles_outside_the_path_are_listed(responder_client: Client, path: list[EscalationLevel]) -> None:
    ContactFactory(role=ContactRole.objects.create(name="Legal Counsel"), name="Lee Lawyer")

    html = responder_client.get(URL).content.decode()

    assert "Lee Lawyer" in table_row(section(html, "Contacts"), "Lee Lawyer")
    assert "Lee Lawyer" not in section(html, "Escalation path")


def test_a_contacts_notes_and_account_are_shown(
    responder_client: Client, staffed: dict[str, Contact], manager: User
) -> None:
    Contact.objects.filter(pk=staffed["pam"].pk).update(notes="Out of office on Fridays", user=manager)

    row = table_row(responder_client.get(URL).content.decode(), "Pam Manager")

    assert "Out of office on Fridays" in row
    assert "<small>morgan</small>" in row
