"""Times are stored in UTC and shown in the viewer's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.incidents.models import Incident
from apps.runbooks.models import Runbook
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db

DECLARED = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture
def incident(procedures: list[Runbook], responder: User) -> Incident:
    with time_machine.travel(DECLARED, tick=False):
        return declare_incident(responder)


def _page_as(user: User, incident: Incident) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("incidents:detail", args=[incident.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_is_stored_in_utc(incident: Incident) -> None:
    assert incident.declared_at == DECLARED
    assert Incident.objects.get(pk=incident.pk).declared_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_a_nairobi_user_sees_the_declared_time_in_east_africa_time(incident: Incident) -> None:
    viewer = UserFactory(username="wanjiru", role=User.Role.MANAGER, timezone="Africa/Nairobi")

    html = _page_as(viewer, incident)

    assert '<time datetime="2026-03-14T12:30:00+03:00">2026-03-14 12:30 EAT</time>' in html


def test_a_utc_user_sees_the_declared_time_in_utc(incident: Incident) -> None:
    viewer = UserFactory(username="ursula", role=User.Role.MANAGER, timezone="UTC")

    html = _page_as(viewer, incident)

    assert '<time datetime="2026-03-14T09:30:00+00:00">2026-03-14 09:30 UTC</time>' in html


def test_a_users_zone_applies_only_to_their_own_requests(incident: Incident) -> None:
    nairobi = UserFactory(username="wanjiru", role=User.Role.MANAGER, timezone="Africa/Nairobi")
    london = UserFactory(username="lucy", role=User.Role.MANAGER, timezone="Europe/London")

    assert "2026-03-14 12:30 EAT" in _page_as(nairobi, incident)
    assert "2026-03-14 09:30 GMT" in _page_as(london, incident)
    assert "2026-03-14 12:30 EAT" in _page_as(nairobi, incident)


def test_a_zone_that_is_no_longer_valid_falls_back_to_utc(incident: Incident) -> None:
    viewer = UserFactory(username="ursula", role=User.Role.MANAGER)
    User.objects.filter(pk=viewer.pk).update(timezone="Mars/Olympus_Mons")  # bypasses validation, as old data might

    html = _page_as(viewer, incident)

    assert "2026-03-14 09:30 UTC" in html
