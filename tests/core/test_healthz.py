"""/healthz: the process is up. No sign-in, no database, never cached."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse


def test_it_answers_ok_as_json(client: Client) -> None:
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_it_is_never_cached(client: Client) -> None:
    response = client.get(reverse("healthz"))

    assert "no-cache" in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]


def test_it_only_answers_get(client: Client) -> None:
    assert client.post(reverse("healthz")).status_code == 405


def test_it_is_at_the_root_without_a_trailing_slash() -> None:
    assert reverse("healthz") == "/healthz"
