"""The acknowledgement link in a page: signed, expiring, one contact and incident, no sign-in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import signing
from django.test import Client

from apps.accounts.models import User
from apps.incidents.models import Component, EventKind, Incident
from apps.paging import tokens
from apps.paging.models import Escalation, Page
from tests.paging.conftest import People, escalation_of, events, fire
from tests.paging.servers import SmtpServer, ack_link, text_of

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)


@pytest.fixture
def paged(time_machine: Any, declare: Callable[..., Incident], responder: User, people: People) -> Incident:
    time_machine.move_to(T0, tick=False)
    incident = declare(responder, scenario="database_failure", severity="sev2", title="Replica lag")
    fire(incident)
    return incident


def link_path(smtp: SmtpServer, address: str = "dana@example.com") -> str:
    return ack_link(text_of(smtp.wait_to(address)[-1])).removeprefix("http://incidents.test")


def test_opening_the_link_shows_the_incident_and_does_not_acknowledge(
    paged: Incident, smtp: SmtpServer, anonymous: Client
) -> None:
    response = anonymous.get(link_path(smtp))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Replica lag" in page
    assert "Acknowledge — I'm on it" in page
    assert response["X-Robots-Tag"] == "noindex"
    assert escalation_of(paged).state == Escalation.State.ACTIVE


def test_the_button_acknowledges_without_signing_in(paged: Incident, smtp: SmtpServer, people: People) -> None:
    client = Client(enforce_csrf_checks=True)
    path = link_path(smtp)
    form = client.get(path)
    token = form.cookies["csrftoken"].value
    response = client.post(path, {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "Thank you, Dana Dba: acknowledged at 03:00 UTC" in response.content.decode()
    escalation = escalation_of(paged)
    assert escalation.state == Escalation.State.ACKNOWLEDGED
    assert escalation.acknowledged_by_contact == people.dba
    assert escalation.acknowledged_via == "acknowledgement link"
    (acknowledged,) = events(paged, EventKind.ACKNOWLEDGED)
    assert acknowledged.page == Page.objects.get(incident=paged)
    # Dana has no account: the escalation records it, in her name.
    assert (acknowledged.actor, acknowledged.component) == (None, Component.ESCALATION)
    assert acknowledged.data == {"name": "Dana Dba", "via": "acknowledgement link"}


def test_a_post_without_the_csrf_token_is_refused(paged: Incident, smtp: SmtpServer) -> None:
    response = Client(enforce_csrf_checks=True).post(link_path(smtp))
    assert response.status_code == 403
    assert escalation_of(paged).state == Escalation.State.ACTIVE


def test_a_second_use_says_who_acknowledged_and_when(
    paged: Incident, smtp: SmtpServer, anonymous: Client, time_machine: Any
) -> None:
    path = link_path(smtp)
    anonymous.post(path)
    time_machine.shift(timedelta(minutes=5))
    again = anonymous.post(path)
    assert again.status_code == 200
    assert "Already acknowledged by Dana Dba at 2026-03-04 03:00 UTC (acknowledgement link)" in again.content.decode()
    reopened = anonymous.get(path)
    assert "Already acknowledged by Dana Dba" in reopened.content.decode()
    assert len(events(paged, EventKind.ACKNOWLEDGED)) == 1


def test_an_expired_link_is_refused_with_a_way_forward(
    paged: Incident, smtp: SmtpServer, anonymous: Client, time_machine: Any
) -> None:
    path = link_path(smtp)
    time_machine.shift(timedelta(hours=24, minutes=1))
    response = anonymous.post(path)
    assert response.status_code == 400
    assert "This link has expired." in response.content.decode()
    assert "Sign in to Incident Center to acknowledge" in response.content.decode()
    assert escalation_of(paged).state == Escalation.State.ACTIVE


@pytest.mark.parametrize("cut", [slice(None, -1), slice(1, None)])
def test_a_tampered_link_is_refused(paged: Incident, smtp: SmtpServer, anonymous: Client, cut: slice) -> None:
    path = link_path(smtp)
    prefix, token = path.rstrip("/").rsplit("/", 1)
    response = anonymous.post(f"{prefix}/{token[cut]}/")
    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()
    assert escalation_of(paged).state == Escalation.State.ACTIVE


def test_a_forged_payload_without_the_key_is_refused(paged: Incident, anonymous: Client) -> None:
    page = Page.objects.get(incident=paged)
    forged = signing.dumps(
        {"p": page.pk, "c": page.contact_id, "i": paged.pk}, key="not-the-secret", salt=tokens.ACK_SALT
    )
    response = anonymous.post(f"/paging/ack/{paged.pk}/{forged}/")
    assert response.status_code == 400
    assert escalation_of(paged).state == Escalation.State.ACTIVE


def test_a_link_for_another_incident_is_refused(
    paged: Incident, smtp: SmtpServer, anonymous: Client, declare: Callable[..., Incident], responder: User
) -> None:
    other = declare(responder, scenario="website_defacement", severity="sev3", title="Logo replaced")
    path = link_path(smtp)
    token = path.rstrip("/").rsplit("/", 1)[1]
    response = anonymous.post(f"/paging/ack/{other.pk}/{token}/")
    assert response.status_code == 404
    assert "for another incident" in response.content.decode()
    assert escalation_of(paged).state == Escalation.State.ACTIVE
    assert escalation_of(other).state == Escalation.State.ACTIVE


def test_a_link_signed_for_a_page_of_someone_else_matches_nothing(paged: Incident, anonymous: Client) -> None:
    page = Page.objects.get(incident=paged)
    token = tokens.ack_token(page_id=page.pk, contact_id=page.contact_id + 1000, incident_id=paged.pk)  # type: ignore[operator]
    response = anonymous.get(f"/paging/ack/{paged.pk}/{token}/")
    assert response.status_code == 404
    assert "does not match any page" in response.content.decode()
