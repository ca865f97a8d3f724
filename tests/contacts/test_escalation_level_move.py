"""Moving a level up or down swaps it with its neighbour; positions stay 1..n. A move past either
end does nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.contacts.models import EscalationLevel
from tests.contacts.helpers import path_names, path_positions

pytestmark = pytest.mark.django_db

SYSADMIN, DBA, LEAD, PM, PROVIDER = (
    "System Administrator",
    "Database Administrator",
    "Technical Lead",
    "Project Manager",
    "Infrastructure Provider",
)


def _move(client: Client, level: EscalationLevel, direction: str) -> int:
    response = client.post(reverse("contacts:level_move", args=[level.pk, direction]))
    return response.status_code


def test_moving_a_level_up_swaps_it_with_the_one_above(admin_client_: Client, path: list[EscalationLevel]) -> None:
    response = admin_client_.post(reverse("contacts:level_move", args=[path[2].pk, "up"]))

    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:escalation")
    assert path_names() == [SYSADMIN, LEAD, DBA, PM, PROVIDER]
    assert path_positions() == [1, 2, 3, 4, 5]


def test_moving_a_level_down_swaps_it_with_the_one_below(admin_client_: Client, path: list[EscalationLevel]) -> None:
    assert _move(admin_client_, path[0], "down") == 302

    assert path_names() == [DBA, SYSADMIN, LEAD, PM, PROVIDER]
    assert path_positions() == [1, 2, 3, 4, 5]


def test_a_level_keeps_its_timeout_when_it_moves(admin_client_: Client, path: list[EscalationLevel]) -> None:
    _move(admin_client_, path[3], "up")

    moved = EscalationLevel.objects.get(pk=path[3].pk)
    assert (moved.position, moved.role.name, moved.ack_timeout_minutes) == (3, PM, 30)


def test_moving_the_first_level_up_does_nothing(admin_client_: Client, path: list[EscalationLevel]) -> None:
    assert _move(admin_client_, path[0], "up") == 302

    assert path_names() == [SYSADMIN, DBA, LEAD, PM, PROVIDER]
    assert path_positions() == [1, 2, 3, 4, 5]


def test_moving_the_last_level_down_does_nothing(admin_client_: Client, path: list[EscalationLevel]) -> None:
    assert _move(admin_client_, path[4], "down") == 302

    assert path_names() == [SYSADMIN, DBA, LEAD, PM, PROVIDER]
    assert path_positions() == [1, 2, 3, 4, 5]


def test_a_level_walks_all_the_way_to_the_top(admin_client_: Client, path: list[EscalationLevel]) -> None:
    for _ in range(6):  # one more than it takes
        _move(admin_client_, path[4], "up")

    assert path_names() == [PROVIDER, SYSADMIN, DBA, LEAD, PM]
    assert path_positions() == [1, 2, 3, 4, 5]


def test_positions_stay_contiguous_after_a_removal_and_moves(
    admin_client_: Client, path: list[EscalationLevel]
) -> None:
    admin_client_.post(reverse("contacts:level_remove", args=[path[1].pk]))
    _move(admin_client_, path[4], "up")
    _move(admin_client_, path[0], "down")

    assert path_names() == [LEAD, SYSADMIN, PROVIDER, PM]
    assert path_positions() == [1, 2, 3, 4]


@pytest.mark.parametrize("direction", ["sideways", "UP", "-1", "top"])
def test_a_direction_other_than_up_or_down_is_not_found(
    admin_client_: Client, path: list[EscalationLevel], direction: str
) -> None:
    assert _move(admin_client_, path[2], direction) == 404

    assert path_names() == [SYSADMIN, DBA, LEAD, PM, PROVIDER]


def test_a_missing_level_is_not_found(admin_client_: Client, path: list[EscalationLevel]) -> None:
    assert admin_client_.post(reverse("contacts:level_move", args=[999_999, "up"])).status_code == 404


def test_it_only_accepts_post(admin_client_: Client, path: list[EscalationLevel]) -> None:
    assert admin_client_.get(reverse("contacts:level_move", args=[path[2].pk, "up"])).status_code == 405
    assert path_names() == [SYSADMIN, DBA, LEAD, PM, PROVIDER]


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_move_a_level(
    request: pytest.FixtureRequest, client_name: str, path: list[EscalationLevel]
) -> None:
    client: Client = request.getfixturevalue(client_name)

    assert _move(client, path[2], "up") == 403

    assert path_names() == [SYSADMIN, DBA, LEAD, PM, PROVIDER]
