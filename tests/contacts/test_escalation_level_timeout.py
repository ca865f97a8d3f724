"""Admins change how long a level waits for an acknowledgement: 1 to 1440 minutes."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.contacts.models import EscalationLevel

pytestmark = pytest.mark.django_db


def _post(client: Client, level: EscalationLevel, timeout: str, *, follow: bool = False):  # type: ignore[no-untyped-def]
    data = {f"edit-{level.pk}-role": level.role_id, f"edit-{level.pk}-ack_timeout_minutes": timeout}
    return client.post(reverse("contacts:level_timeout", args=[level.pk]), data, follow=follow)


def _timeouts() -> list[int]:
    return list(EscalationLevel.objects.order_by("position").values_list("ack_timeout_minutes", flat=True))


def test_an_admin_changes_a_levels_timeout(admin_client_: Client, path: list[EscalationLevel]) -> None:
    response = _post(admin_client_, path[1], "45", follow=True)

    assert response.redirect_chain == [(reverse("contacts:escalation"), 302)]
    assert "Level 2 saved." in response.content.decode()
    assert f'name="edit-{path[1].pk}-ack_timeout_minutes" value="45"' in response.content.decode()
    assert _timeouts() == [15, 45, 15, 30, 30]


def test_the_longest_and_shortest_timeouts_are_accepted(admin_client_: Client, path: list[EscalationLevel]) -> None:
    _post(admin_client_, path[0], "1")
    _post(admin_client_, path[4], "1440")

    assert _timeouts() == [1, 15, 15, 30, 1440]


@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("100000", "Ensure this value is less than or equal to 1440."),
        ("1441", "Ensure this value is less than or equal to 1440."),
        ("-5", "Ensure this value is greater than or equal to"),
        ("fifteen", "Enter a whole number."),
        ("", "This field is required."),
    ],
)
def test_a_bad_timeout_is_refused_with_a_message(
    admin_client_: Client, path: list[EscalationLevel], timeout: str, message: str
) -> None:
    response = _post(admin_client_, path[1], timeout, follow=True)

    html = response.content.decode()
    assert message in html
    assert 'class="message error" role="alert"' in html
    assert "Level 2 saved." not in html
    assert _timeouts() == [15, 15, 15, 30, 30]


def test_changing_the_timeout_keeps_the_level_in_place(admin_client_: Client, path: list[EscalationLevel]) -> None:
    _post(admin_client_, path[2], "20")

    level = EscalationLevel.objects.get(pk=path[2].pk)
    assert (level.position, level.role.name, level.ack_timeout_minutes) == (3, "Technical Lead", 20)


def test_it_only_accepts_post(admin_client_: Client, path: list[EscalationLevel]) -> None:
    assert admin_client_.get(reverse("contacts:level_timeout", args=[path[0].pk])).status_code == 405


def test_a_missing_level_is_not_found(admin_client_: Client, path: list[EscalationLevel]) -> None:
    response = admin_client_.post(reverse("contacts:level_timeout", args=[999_999]), {})

    assert response.status_code == 404


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_change_a_timeout(
    request: pytest.FixtureRequest, client_name: str, path: list[EscalationLevel]
) -> None:
    client: Client = request.getfixturevalue(client_name)

    assert _post(client, path[1], "1").status_code == 403

    assert _timeouts() == [15, 15, 15, 30, 30]
