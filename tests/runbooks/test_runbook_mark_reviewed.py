"""An admin marks a runbook reviewed today: it records when and by whom and clears "review due"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.runbooks.models import Runbook
from apps.runbooks.services import procedures_load

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdue() -> Runbook:
    """Database Failure, loaded (and so last reviewed) 400 days ago."""
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=False):
        procedures_load()
    runbook = Runbook.objects.get(scenario="database_failure")
    assert runbook.needs_review
    return runbook


def _url(runbook: Runbook) -> str:
    return reverse("runbooks:reviewed", args=[runbook.pk])


def test_it_records_when_and_by_whom(admin_client_: Client, admin_user: User, overdue: Runbook) -> None:
    reviewed_at = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)

    with time_machine.travel(reviewed_at, tick=False):
        response = admin_client_.post(_url(overdue))

    assert response.status_code == 302
    assert response["Location"] == reverse("runbooks:detail", args=[overdue.pk])
    overdue.refresh_from_db()
    assert overdue.last_reviewed_at == reviewed_at
    assert overdue.last_reviewed_by == admin_user


def test_the_runbook_is_no_longer_review_due(admin_client_: Client, overdue: Runbook) -> None:
    response = admin_client_.post(_url(overdue), follow=True)

    html = response.content.decode()
    assert "Database Failure marked as reviewed today." in html
    assert f"{timezone.now():%Y-%m-%d} by Alex Admin" in html
    assert "review due" not in html
    overdue.refresh_from_db()
    assert not overdue.needs_review
    listing = admin_client_.get(reverse("runbooks:list")).content.decode()
    assert listing.count("review due") == 6  # the other six runbooks are still overdue


def test_the_detail_page_shows_review_due_before(admin_client_: Client, overdue: Runbook) -> None:
    html = admin_client_.get(reverse("runbooks:detail", args=[overdue.pk])).content.decode()

    assert "review due: at least once a year" in html


def test_it_only_accepts_post(admin_client_: Client, overdue: Runbook) -> None:
    response = admin_client_.get(_url(overdue))

    assert response.status_code == 405
    overdue.refresh_from_db()
    assert overdue.needs_review


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_mark_it_reviewed(
    request: pytest.FixtureRequest, client_name: str, overdue: Runbook
) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.post(_url(overdue))

    assert response.status_code == 403
    overdue.refresh_from_db()
    assert overdue.needs_review
    assert overdue.last_reviewed_by is None


def test_anonymous_visitor_is_sent_to_sign_in(client: Client, overdue: Runbook) -> None:
    response = client.post(_url(overdue))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    overdue.refresh_from_db()
    assert overdue.needs_review


def test_an_unknown_runbook_is_not_found(admin_client_: Client, overdue: Runbook) -> None:
    assert admin_client_.post(reverse("runbooks:reviewed", args=[999_999])).status_code == 404
