"""The escalation path editor: admins see the levels in order and add a level at the end."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.contacts.models import ContactRole, EscalationLevel
from tests.contacts.helpers import path_names, path_positions
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

URL = reverse("contacts:escalation")
SEED = [
    "System Administrator",
    "Database Administrator",
    "Technical Lead",
    "Project Manager",
    "Infrastructure Provider",
]


def test_an_admin_sees_the_levels_in_order_with_their_controls(
    admin_client_: Client, path: list[EscalationLevel]
) -> None:
    ContactFactory(role=path[1].role)
    ContactFactory(role=path[1].role)

    response = admin_client_.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    positions = [html.index(f"<strong>{n}. {name}</strong>") for n, name in enumerate(SEED, start=1)]
    assert positions == sorted(positions)
    assert "<small>2 contacts</small>" in html
    assert 'aria-label="Move System Administrator up" disabled' in html
    assert 'aria-label="Move Infrastructure Provider down" disabled' in html
    assert 'aria-label="Move Technical Lead up">' in html
    assert f'name="edit-{path[3].pk}-ack_timeout_minutes" value="30"' in html


def test_an_empty_path_says_so(admin_client_: Client) -> None:
    assert "No levels yet." in admin_client_.get(URL).content.decode()


def test_an_admin_adds_a_level_at_the_end(admin_client_: Client, path: list[EscalationLevel]) -> None:
    legal = ContactRole.objects.create(name="Legal Counsel")

    response = admin_client_.post(URL, {"level-role": legal.pk, "level-ack_timeout_minutes": 60}, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    assert "Level added at the end of the path." in response.content.decode()
    assert path_names() == [*SEED, "Legal Counsel"]
    assert path_positions() == [1, 2, 3, 4, 5, 6]
    assert EscalationLevel.objects.get(position=6).ack_timeout_minutes == 60


def test_the_first_level_of_an_empty_path_is_level_one(admin_client_: Client) -> None:
    role = ContactRole.objects.create(name="On-call engineer")

    admin_client_.post(URL, {"level-role": role.pk, "level-ack_timeout_minutes": 10})

    assert list(EscalationLevel.objects.values_list("position", "role__name", "ack_timeout_minutes")) == [
        (1, "On-call engineer", 10)
    ]


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("100000", "Ensure this value is less than or equal to"),
        ("soon", "Enter a whole number."),
        ("", "This field is required."),
    ],
)
def test_a_level_with_a_bad_timeout_is_refused(
    admin_client_: Client, path: list[EscalationLevel], timeout: str, error: str
) -> None:
    response = admin_client_.post(URL, {"level-role": path[0].role_id, "level-ack_timeout_minutes": timeout})

    assert response.status_code == 400
    assert error in response.content.decode()
    assert path_names() == SEED


def test_a_level_without_a_role_is_refused(admin_client_: Client, path: list[EscalationLevel]) -> None:
    response = admin_client_.post(URL, {"level-role": "", "level-ack_timeout_minutes": "15"})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert path_names() == SEED


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_open_or_change_the_path(
    request: pytest.FixtureRequest, client_name: str, path: list[EscalationLevel]
) -> None:
    client: Client = request.getfixturevalue(client_name)

    assert client.get(URL).status_code == 403
    assert client.post(URL, {"level-role": path[0].role_id, "level-ack_timeout_minutes": 5}).status_code == 403
    assert path_names() == SEED


def test_anonymous_visitor_is_sent_to_sign_in(client: Client, path: list[EscalationLevel]) -> None:
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"
