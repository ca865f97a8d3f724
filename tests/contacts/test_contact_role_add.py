"""Admins add contact roles (responsibilities) for contacts and escalation levels."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.contacts.models import ContactRole, EscalationLevel

pytestmark = pytest.mark.django_db

URL = reverse("contacts:role_add")


def test_an_admin_adds_a_role(admin_client_: Client, path: list[EscalationLevel]) -> None:
    response = admin_client_.post(URL, {"role-name": "Security Officer"}, follow=True)

    assert response.redirect_chain == [(reverse("contacts:escalation"), 302)]
    html = response.content.decode()
    assert "Role Security Officer added." in html
    assert ">Security Officer</option>" in html  # now offered for a new level
    assert ContactRole.objects.filter(name="Security Officer").exists()
    assert EscalationLevel.objects.count() == 5  # a role is not a level until one is added


def test_a_duplicate_name_is_refused_with_a_message(admin_client_: Client, path: list[EscalationLevel]) -> None:
    before = ContactRole.objects.count()

    response = admin_client_.post(URL, {"role-name": "System Administrator"}, follow=True)

    html = response.content.decode()
    assert "Contact role with this Name already exists." in html
    assert 'class="message error" role="alert"' in html
    assert ContactRole.objects.count() == before


def test_an_empty_name_is_refused_with_a_message(admin_client_: Client, path: list[EscalationLevel]) -> None:
    before = ContactRole.objects.count()

    response = admin_client_.post(URL, {"role-name": ""}, follow=True)

    assert "This field is required." in response.content.decode()
    assert ContactRole.objects.count() == before


def test_a_role_name_with_html_is_escaped(admin_client_: Client, path: list[EscalationLevel]) -> None:
    response = admin_client_.post(URL, {"role-name": "<img src=x onerror=alert(1)>"}, follow=True)

    html = response.content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html


def test_it_only_accepts_post(admin_client_: Client, path: list[EscalationLevel]) -> None:
    assert admin_client_.get(URL).status_code == 405


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_add_a_role(
    request: pytest.FixtureRequest, client_name: str, path: list[EscalationLevel]
) -> None:
    client: Client = request.getfixturevalue(client_name)

    assert client.post(URL, {"role-name": "Intruder"}).status_code == 403

    assert not ContactRole.objects.filter(name="Intruder").exists()
