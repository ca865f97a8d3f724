"""Every signed-in user edits their own name, email and time zone; never their role."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import User

pytestmark = pytest.mark.django_db


def test_a_user_sets_their_time_zone_and_sees_it_saved(manager: User, manager_client: Client) -> None:
    response = manager_client.post(
        "/account/",
        {"first_name": "Morgan", "last_name": "Manager", "email": "m@example.com", "timezone": "Asia/Tokyo"},
    )

    assert response.status_code == 302
    manager.refresh_from_db()
    assert manager.timezone == "Asia/Tokyo"
    assert "Your account is saved." in manager_client.get("/account/").content.decode()


def test_an_unknown_time_zone_is_refused_with_a_message(responder: User, responder_client: Client) -> None:
    response = responder_client.post(
        "/account/", {"first_name": "R", "last_name": "R", "email": "", "timezone": "Mars/Olympus_Mons"}
    )

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    responder.refresh_from_db()
    assert responder.timezone == "UTC"


def test_a_user_cannot_give_themselves_another_role(responder: User, responder_client: Client) -> None:
    responder_client.post(
        "/account/", {"first_name": "R", "last_name": "R", "email": "", "timezone": "UTC", "role": "admin"}
    )

    responder.refresh_from_db()
    assert responder.role == User.Role.RESPONDER
    assert not responder.is_staff


def test_anonymous_visitors_are_sent_to_sign_in() -> None:
    response = Client().get("/account/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
