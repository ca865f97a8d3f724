"""An admin removes a contact from the contact sheet; other roles cannot."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.contacts.models import Contact, ContactRole
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(role: ContactRole) -> Contact:
    return ContactFactory(role=role, name="Dora DBA")


def test_an_admin_removes_a_contact(admin_client_: Client, contact: Contact) -> None:
    response = admin_client_.post(reverse("contacts:delete", args=[contact.pk]), follow=True)

    assert response.redirect_chain == [(reverse("contacts:sheet"), 302)]
    assert "Dora DBA removed from the contact sheet." in response.content.decode()
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert ContactRole.objects.filter(pk=contact.role_id).exists()


def test_removing_asks_for_confirmation_first(admin_client_: Client, contact: Contact) -> None:
    html = admin_client_.get(reverse("contacts:sheet")).content.decode()

    assert 'data-confirm="Remove Dora DBA from the contact sheet?"' in html


def test_it_only_accepts_post(admin_client_: Client, contact: Contact) -> None:
    assert admin_client_.get(reverse("contacts:delete", args=[contact.pk])).status_code == 405
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_a_missing_contact_is_not_found(admin_client_: Client, contact: Contact) -> None:
    assert admin_client_.post(reverse("contacts:delete", args=[999_999])).status_code == 404
    assert Contact.objects.count() == 1


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_remove_a_contact(
    request: pytest.FixtureRequest, client_name: str, contact: Contact
) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.post(reverse("contacts:delete", args=[contact.pk]))

    assert response.status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_anonymous_visitor_is_sent_to_sign_in(client: Client, contact: Contact) -> None:
    response = client.post(reverse("contacts:delete", args=[contact.pk]))

    assert response.status_code == 302
    assert Contact.objects.filter(pk=contact.pk).exists()
