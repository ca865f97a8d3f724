"""The Django admin: the admin role reaches it through `RoleBackend` without being a superuser;
every other role is sent to the admin's sign-in page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.contacts.models import Contact
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

ADMIN_INDEX = reverse("admin:index")
CONTACTS = reverse("admin:contacts_contact_changelist")


def test_the_admin_role_is_staff_but_not_superuser(admin_user: User) -> None:
    assert admin_user.is_staff
    assert not admin_user.is_superuser


def test_an_admin_opens_the_django_admin(admin_client_: Client) -> None:
    response = admin_client_.get(ADMIN_INDEX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Contacts and escalation" in html
    assert "Runbooks" in html


def test_an_admin_opens_the_contacts_admin(admin_client_: Client) -> None:
    ContactFactory(name="Dora DBA")

    response = admin_client_.get(CONTACTS)

    assert response.status_code == 200
    assert "Dora DBA" in response.content.decode()


def test_an_admin_changes_a_contact_in_the_admin(admin_client_: Client) -> None:
    contact = ContactFactory(name="Dora DBA")
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    assert admin_client_.get(url).status_code == 200

    response = admin_client_.post(
        url,
        {
            "role": contact.role_id,
            "name": "Dora Smith",
            "primary_contact": contact.primary_contact,
            "secondary_contact": "",
            "notes": "",
            "user": "",
            "last_verified_at_0": "",
            "last_verified_at_1": "",
        },
    )

    assert response.status_code == 302
    assert Contact.objects.get(pk=contact.pk).name == "Dora Smith"


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
@pytest.mark.parametrize("url", [ADMIN_INDEX, CONTACTS])
def test_other_roles_are_sent_to_the_admin_sign_in(request: pytest.FixtureRequest, client_name: str, url: str) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_an_inactive_admin_cannot_open_the_admin(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)
    User.objects.filter(pk=admin_user.pk).update(is_active=False)

    response = client.get(ADMIN_INDEX)

    assert response.status_code == 302


def test_the_admin_role_holds_every_model_permission(admin_user: User, responder: User) -> None:
    assert admin_user.has_perm("contacts.delete_contact")
    assert admin_user.has_module_perms("runbooks")
    assert not responder.has_perm("contacts.delete_contact")
    assert not responder.has_module_perms("runbooks")
