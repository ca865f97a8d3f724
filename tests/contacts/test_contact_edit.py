"""Admins add and edit contacts. A contact's details must be something a responder can act on:
a phone number, an email address or a web address. Other roles are refused."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.contacts.models import Contact, ContactRole
from tests.contacts.helpers import table_row
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

CREATE = reverse("contacts:create")
SCRIPT_NAME = "<script>alert('x')</script> Mallory"


def _form(role: ContactRole, /, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "role": role.pk,
        "name": "Dora DBA",
        "primary_contact": "+44 20 7946 0123",
        "secondary_contact": "dora@example.com",
        "notes": "Prefers a call.",
        "user": "",
    }
    data.update(overrides)
    return data


def test_an_admin_sees_the_empty_form(admin_client_: Client, role: ContactRole) -> None:
    response = admin_client_.get(CREATE)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Add a contact</h1>" in html
    assert f'<option value="{role.pk}">Database Administrator</option>' in html


def test_an_admin_adds_a_contact(admin_client_: Client, role: ContactRole, manager: User) -> None:
    response = admin_client_.post(CREATE, _form(role, user=manager.pk))

    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:sheet")
    contact = Contact.objects.get()
    assert (contact.role, contact.name, contact.primary_contact, contact.secondary_contact, contact.notes) == (
        role,
        "Dora DBA",
        "+44 20 7946 0123",
        "dora@example.com",
        "Prefers a call.",
    )
    assert contact.user == manager
    assert contact.last_verified_at is None


def test_the_new_contact_is_on_the_sheet_with_a_message(admin_client_: Client, role: ContactRole) -> None:
    response = admin_client_.post(CREATE, _form(role), follow=True)

    html = response.content.decode()
    assert "Dora DBA saved." in html
    assert "needs verification" in table_row(html, "Dora DBA")


def test_an_admin_edits_a_contact(admin_client_: Client, role: ContactRole) -> None:
    contact = ContactFactory(role=role, name="Dora DBA")
    url = reverse("contacts:edit", args=[contact.pk])
    assert "<h1>Edit Dora DBA</h1>" in admin_client_.get(url).content.decode()

    response = admin_client_.post(
        url, _form(role, name="Dora Smith", primary_contact="https://oncall.example.com/dora")
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.name == "Dora Smith"
    assert contact.primary_contact == "https://oncall.example.com/dora"
    assert Contact.objects.count() == 1


ACCEPTED = [
    "+44 20 7946 0123",
    "020 7946 0123",
    "(555) 123-4567",
    "ops@example.com",
    "https://status.example.com/page",
    "https://support.example.com/",
]


@pytest.mark.parametrize("primary", ACCEPTED)
def test_phone_email_and_web_addresses_are_accepted(admin_client_: Client, role: ContactRole, primary: str) -> None:
    response = admin_client_.post(CREATE, _form(role, primary_contact=primary))

    assert response.status_code == 302
    assert Contact.objects.get().primary_contact == primary


@pytest.mark.parametrize(
    "primary",
    ["rm -rf /; $(reboot)", "call Bob", "javascript:alert(1)", "+44 20 7946 0123; reboot", "`id`"],
)
def test_a_primary_contact_that_is_not_a_phone_email_or_url_is_refused(
    admin_client_: Client, role: ContactRole, primary: str
) -> None:
    response = admin_client_.post(CREATE, _form(role, primary_contact=primary))

    assert response.status_code == 400
    assert "Enter a phone number (+44 20 7946 0000), an email address or a web address." in response.content.decode()
    assert not Contact.objects.exists()


def test_a_bad_secondary_contact_is_refused(admin_client_: Client, role: ContactRole) -> None:
    response = admin_client_.post(CREATE, _form(role, secondary_contact="$(reboot)"))

    assert response.status_code == 400
    assert "Enter a phone number" in response.content.decode()
    assert not Contact.objects.exists()


def test_the_secondary_contact_is_optional(admin_client_: Client, role: ContactRole) -> None:
    admin_client_.post(CREATE, _form(role, secondary_contact=""))

    assert Contact.objects.get().secondary_contact == ""


@pytest.mark.parametrize("missing", ["role", "name", "primary_contact"])
def test_required_fields_are_required(admin_client_: Client, role: ContactRole, missing: str) -> None:
    response = admin_client_.post(CREATE, _form(role, **{missing: ""}))

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Contact.objects.exists()


def test_an_inactive_user_cannot_be_linked(admin_client_: Client, role: ContactRole, manager: User) -> None:
    User.objects.filter(pk=manager.pk).update(is_active=False)

    response = admin_client_.post(CREATE, _form(role, user=manager.pk))

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not Contact.objects.exists()


def test_a_failed_edit_leaves_the_contact_unchanged(admin_client_: Client, role: ContactRole) -> None:
    contact = ContactFactory(role=role, name="Dora DBA", primary_contact="+44 20 7946 0123")

    response = admin_client_.post(
        reverse("contacts:edit", args=[contact.pk]), _form(role, name="Changed", primary_contact="rm -rf /; $(reboot)")
    )

    assert response.status_code == 400
    contact.refresh_from_db()
    assert (contact.name, contact.primary_contact) == ("Dora DBA", "+44 20 7946 0123")


def test_a_name_with_html_is_escaped_on_the_sheet(admin_client_: Client, role: ContactRole) -> None:
    admin_client_.post(CREATE, _form(role, name=SCRIPT_NAME))

    html = admin_client_.get(reverse("contacts:sheet")).content.decode()

    assert Contact.objects.get().name == SCRIPT_NAME
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Mallory" in html
    assert "<script>alert" not in html


def test_a_name_with_html_is_escaped_in_the_saved_message_and_the_edit_page(
    admin_client_: Client, role: ContactRole
) -> None:
    response = admin_client_.post(CREATE, _form(role, name=SCRIPT_NAME), follow=True)
    edit = admin_client_.get(reverse("contacts:edit", args=[Contact.objects.get().pk])).content.decode()

    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Mallory saved." in response.content.decode()
    assert "<script>alert" not in response.content.decode()
    assert "<script>alert" not in edit


def test_a_missing_contact_is_not_found(admin_client_: Client, role: ContactRole) -> None:
    assert admin_client_.get(reverse("contacts:edit", args=[999_999])).status_code == 404


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_add_a_contact(request: pytest.FixtureRequest, client_name: str, role: ContactRole) -> None:
    client: Client = request.getfixturevalue(client_name)

    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, _form(role)).status_code == 403
    assert not Contact.objects.exists()


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_edit_a_contact(request: pytest.FixtureRequest, client_name: str, role: ContactRole) -> None:
    client: Client = request.getfixturevalue(client_name)
    contact = ContactFactory(role=role, name="Dora DBA", primary_contact="+44 20 7946 0123")
    url = reverse("contacts:edit", args=[contact.pk])

    assert client.get(url).status_code == 403
    assert client.post(url, _form(role, name="Hijacked", primary_contact="+1 555 0100")).status_code == 403
    contact.refresh_from_db()
    assert (contact.name, contact.primary_contact) == ("Dora DBA", "+44 20 7946 0123")


def test_anonymous_visitor_is_sent_to_sign_in(client: Client, role: ContactRole) -> None:
    response = client.post(CREATE, _form(role))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Contact.objects.exists()


@pytest.mark.parametrize("primary", ["-----", "(((())))", "..... /"])
def test_punctuation_without_digits_is_not_a_phone_number(
    admin_client_: Client, role: ContactRole, primary: str
) -> None:
    response = admin_client_.post(CREATE, _form(role, primary_contact=primary))

    assert response.status_code == 400
    assert "Enter a phone number" in response.content.decode()
    assert not Contact.objects.exists()


def test_a_web_address_without_a_scheme_is_saved_and_shown_as_a_link(admin_client_: Client, role: ContactRole) -> None:
    admin_client_.post(CREATE, _form(role, name="Hal Hosting", primary_contact="support.example.com"))

    row = table_row(admin_client_.get(reverse("contacts:sheet")).content.decode(), "Hal Hosting")

    assert Contact.objects.get().primary_contact == "https://support.example.com"
    assert '<a href="https://support.example.com" rel="noopener noreferrer">' in row
    assert "tel:" not in row.split("</td>")[2]


def test_an_ftp_address_is_refused_as_contact_details(admin_client_: Client, procedures: list[object]) -> None:
    from apps.contacts.models import Contact, ContactRole

    role = ContactRole.objects.get(name="System Administrator")
    response = admin_client_.post(
        "/contacts/new/",
        {"role": role.pk, "name": "Ftp Person", "primary_contact": "ftp://files.example.com", "secondary_contact": ""},
    )

    assert response.status_code == 400
    assert "Enter a phone number" in response.content.decode()
    assert not Contact.objects.filter(name="Ftp Person").exists()
