"""Removing a level closes the gap: the levels below move up and positions stay 1..n."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.contacts.models import Contact, ContactRole, EscalationLevel
from tests.contacts.helpers import path_names, path_positions
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

SEED = [
    "System Administrator",
    "Database Administrator",
    "Technical Lead",
    "Project Manager",
    "Infrastructure Provider",
]


def test_removing_a_level_renumbers_the_rest(admin_client_: Client, path: list[EscalationLevel]) -> None:
    response = admin_client_.post(reverse("contacts:level_remove", args=[path[1].pk]), follow=True)

    assert response.redirect_chain == [(reverse("contacts:escalation"), 302)]
    assert "Level removed." in response.content.decode()
    assert path_names() == [SEED[0], *SEED[2:]]
    assert path_positions() == [1, 2, 3, 4]
    assert "<strong>2. Technical Lead</strong>" in response.content.decode()


def test_removing_the_first_and_last_levels(admin_client_: Client, path: list[EscalationLevel]) -> None:
    admin_client_.post(reverse("contacts:level_remove", args=[path[0].pk]))
    admin_client_.post(reverse("contacts:level_remove", args=[path[4].pk]))

    assert path_names() == SEED[1:4]
    assert path_positions() == [1, 2, 3]


def test_removing_every_level_leaves_an_empty_path(admin_client_: Client, path: list[EscalationLevel]) -> None:
    for level in path:
        admin_client_.post(reverse("contacts:level_remove", args=[level.pk]))

    assert not EscalationLevel.objects.exists()


def test_the_roles_contacts_stay_on_the_sheet(admin_client_: Client, path: list[EscalationLevel]) -> None:
    contact = ContactFactory(role=path[2].role, name="Tim Lead")

    admin_client_.post(reverse("contacts:level_remove", args=[path[2].pk]))

    assert Contact.objects.filter(pk=contact.pk).exists()
    assert ContactRole.objects.filter(name="Technical Lead").exists()
    assert "Tim Lead" in admin_client_.get(reverse("contacts:sheet")).content.decode()


def test_a_removed_level_can_be_added_back_at_the_end(admin_client_: Client, path: list[EscalationLevel]) -> None:
    admin_client_.post(reverse("contacts:level_remove", args=[path[0].pk]))

    admin_client_.post(
        reverse("contacts:escalation"), {"level-role": path[0].role_id, "level-ack_timeout_minutes": "15"}
    )

    assert path_names() == [*SEED[1:], SEED[0]]
    assert path_positions() == [1, 2, 3, 4, 5]


def test_removing_asks_for_confirmation_first(admin_client_: Client, path: list[EscalationLevel]) -> None:
    assert 'data-confirm="Remove level 3?"' in admin_client_.get(reverse("contacts:escalation")).content.decode()


def test_a_missing_level_is_not_found(admin_client_: Client, path: list[EscalationLevel]) -> None:
    assert admin_client_.post(reverse("contacts:level_remove", args=[999_999])).status_code == 404
    assert path_names() == SEED


def test_it_only_accepts_post(admin_client_: Client, path: list[EscalationLevel]) -> None:
    assert admin_client_.get(reverse("contacts:level_remove", args=[path[0].pk])).status_code == 405
    assert path_names() == SEED


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_remove_a_level(
    request: pytest.FixtureRequest, client_name: str, path: list[EscalationLevel]
) -> None:
    client: Client = request.getfixturevalue(client_name)

    assert client.post(reverse("contacts:level_remove", args=[path[1].pk])).status_code == 403

    assert path_names() == SEED
