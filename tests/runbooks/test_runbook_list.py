"""The runbook list: every role reads it; a runbook not reviewed for a year says "review due"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.runbooks.models import Runbook
from apps.runbooks.services import procedures_load, runbook_mark_reviewed

pytestmark = pytest.mark.django_db

URL = reverse("runbooks:list")
TITLES = [
    "Initial Response",
    "System Outage",
    "Data Corruption",
    "Security Breach",
    "Database Failure",
    "Website Defacement",
    "Post-Emergency Actions",
]


def _row(html: str, title: str) -> str:
    """The table row of the runbook titled `title`."""
    for row in re.findall(r"<tr[ >].*?</tr>", html, flags=re.S):
        if f">{title}</a>" in row:
            return str(row)
    raise AssertionError(f"no row for {title!r}")


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client", "admin_client_"])
def test_every_role_sees_all_runbooks(
    request: pytest.FixtureRequest, client_name: str, procedures: list[Runbook]
) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    for title in TITLES:
        assert f">{title}</a>" in html


def test_it_shows_step_count_and_who_to_call_first(responder_client: Client, procedures: list[Runbook]) -> None:
    html = responder_client.get(URL).content.decode()

    row = _row(html, "Database Failure")
    assert "<td>5</td>" in row
    assert "<td>Database Administrator</td>" in row
    assert "<td>—</td>" in _row(html, "Initial Response")


def test_anonymous_visitor_is_sent_to_sign_in(client: Client, procedures: list[Runbook]) -> None:
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


def test_a_runbook_reviewed_more_than_a_year_ago_is_shown_as_review_due(
    responder_client: Client, admin_user: User
) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=366), tick=False):
        procedures_load()
    runbook_mark_reviewed(runbook=Runbook.objects.get(scenario="security_breach"), user=admin_user)

    html = responder_client.get(URL).content.decode()

    assert "review due" in _row(html, "Database Failure")
    assert 'class="stale"' in _row(html, "Database Failure")
    assert "review due" not in _row(html, "Security Breach")
    assert Runbook.objects.get(scenario="database_failure").needs_review


def test_a_runbook_reviewed_within_the_year_is_not_review_due(responder_client: Client) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=364), tick=False):
        procedures_load()

    html = responder_client.get(URL).content.decode()

    assert "review due" not in html
    assert not Runbook.objects.get(scenario="database_failure").needs_review


def test_a_runbook_never_reviewed_is_review_due(responder_client: Client, procedures: list[Runbook]) -> None:
    Runbook.objects.filter(scenario="system_outage").update(last_reviewed_at=None)

    html = responder_client.get(URL).content.decode()

    assert "never" in _row(html, "System Outage")
    assert "review due" in _row(html, "System Outage")


def test_it_shows_the_review_date_in_the_viewers_time_zone(responder_client: Client, responder: User) -> None:
    with time_machine.travel(datetime(2025, 6, 30, 22, 30, tzinfo=UTC), tick=False):
        procedures_load()
    responder.timezone = "Africa/Nairobi"
    responder.save()

    html = responder_client.get(URL).content.decode()

    assert "2025-07-01" in _row(html, "Database Failure")
