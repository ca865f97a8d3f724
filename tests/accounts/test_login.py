"""Signing in with a username and password."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")


def test_the_sign_in_page_shows_the_form(client: Client) -> None:
    response = client.get(LOGIN)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Sign in</h1>" in html
    assert 'name="username"' in html
    assert 'name="password"' in html


def test_the_right_password_signs_in_and_opens_the_board(client: Client, responder: User) -> None:
    response = client.post(LOGIN, {"username": "riley", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:board")
    assert client.session["_auth_user_id"] == str(responder.pk)
    assert client.get(reverse("runbooks:list")).status_code == 200


def test_sign_in_returns_to_the_page_asked_for(client: Client, responder: User) -> None:
    wanted = reverse("contacts:sheet")
    assert client.get(wanted)["Location"] == f"{LOGIN}?next={wanted}"

    response = client.post(f"{LOGIN}?next={wanted}", {"username": "riley", "password": PASSWORD, "next": wanted})

    assert response["Location"] == wanted


def test_sign_in_does_not_follow_a_link_to_another_site(client: Client, responder: User) -> None:
    response = client.post(LOGIN, {"username": "riley", "password": PASSWORD, "next": "https://evil.example.com/"})

    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:board")


def test_a_wrong_password_shows_an_error(client: Client, responder: User) -> None:
    response = client.post(LOGIN, {"username": "riley", "password": "wrong-password"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Please enter a correct username and password." in html
    assert 'role="alert"' in html
    assert "_auth_user_id" not in client.session


def test_an_unknown_user_shows_the_same_error(client: Client) -> None:
    response = client.post(LOGIN, {"username": "nobody", "password": PASSWORD})

    assert "Please enter a correct username and password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_inactive_user_cannot_sign_in(client: Client, responder: User) -> None:
    User.objects.filter(pk=responder.pk).update(is_active=False)

    response = client.post(LOGIN, {"username": "riley", "password": PASSWORD})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_signed_in_user_is_sent_on_from_the_sign_in_page(responder_client: Client) -> None:
    response = responder_client.get(LOGIN)

    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:board")


def test_signing_out_ends_the_session(responder_client: Client) -> None:
    response = responder_client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert responder_client.get(reverse("runbooks:list")).status_code == 302


def test_sign_in_checks_csrf(responder: User) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(LOGIN, {"username": "riley", "password": PASSWORD})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
