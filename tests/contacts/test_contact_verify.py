"""An admin confirms a contact's details are current: "Verified today"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.contacts.models import Contact, ContactRole
from tests.contacts.helpers import table_row
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stale(role: ContactRole) -> Contact:
    return ContactFactory(role=role, name="Dora DBA", last_verified_at=timezone.now() - timedelta(days=200))


def test_an_admin_marks_a_contact_verified_now(admin_client_: Client, stale: Contact) -> None:
    now = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)

    with time_machine.travel(now, tick=False):
        response = admin_client_.post(reverse("contacts:verify", args=[stale.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:sheet")
    stale.refresh_from_db()
    assert stale.last_verified_at == now


def test_the_sheet_no_longer_asks_for_verification(admin_client_: Client, stale: Contact) -> None:
    assert "needs verification" in table_row(admin_client_.get(reverse("contacts:sheet")).content.decode(), "Dora DBA")

    response = admin_client_.post(reverse("contacts:verify", args=[stale.pk]), follow=True)

    html = response.content.decode()
    assert "Dora DBA marked as verified today." in html
    row = table_row(html, "Dora DBA")
    assert "needs verification" not in row
    assert f"{timezone.now():%Y-%m-%d}" in row


def test_it_only_accepts_post(admin_client_: Client, stale: Contact) -> None:
    assert admin_client_.get(reverse("contacts:verify", args=[stale.pk])).status_code == 405
    stale.refresh_from_db()
    assert stale.needs_verification


def test_a_missing_contact_is_not_found(admin_client_: Client, stale: Contact) -> None:
    assert admin_client_.post(reverse("contacts:verify", args=[999_999])).status_code == 404


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_verify(request: pytest.FixtureRequest, client_name: str, stale: Contact) -> None:
    client: Client = request.getfixturevalue(client_name)
    before = stale.last_verified_at

    response = client.post(reverse("contacts:verify", args=[stale.pk]))

    assert response.status_code == 403
    stale.refresh_from_db()
    assert stale.last_verified_at == before


def test_anonymous_visitor_is_sent_to_sign_in(client: Client, stale: Contact) -> None:
    response = client.post(reverse("contacts:verify", args=[stale.pk]))

    assert response.status_code == 302
    stale.refresh_from_db()
    assert stale.needs_verification
