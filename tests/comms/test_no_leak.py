"""Nothing internal reaches the public: a walk over every public response (and every link they
give) looking for responders' names, host names, internal update text and timeline text."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.comms import links, tasks
from apps.comms.models import Component, ComponentState, Notice, PublicIncident
from apps.comms.services.maintenance import maintenance_announce
from apps.comms.urls import PUBLIC_URL_NAMES
from apps.health.models import Host
from apps.incidents import services
from apps.incidents.events import with_related
from tests.comms.conftest import compose_url, form_data, make_subscriber
from tests.factories import declare_incident

pytestmark = pytest.mark.django_db
State = ComponentState

INTERNAL_TITLE = "Primary db-prod-7 crashed after the vendor migration"
TIMELINE_NOTE = "Rotated the replication password on db-prod-7 after Riley's typo"
INTERNAL_UPDATE = "Root cause: a migration Sam ran against web-eu-2 without review"


@pytest.fixture
def secrets_everywhere(
    responder: User,
    second_responder: User,
    coordinator: User,
    comms: User,
    coordinator_client: Client,
    components: dict[str, Component],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> list[str]:
    """An incident full of internal detail, published the way a coordinator does it."""
    Host.objects.create(name="db-prod-7")
    Host.objects.create(name="web-eu-2")
    incident = declare_incident(
        responder,
        title=INTERNAL_TITLE,
        coordinator=coordinator,
        affected_components="db-prod-7, web-eu-2",
        impact="Orders fail for every customer",
        channel_url="https://chat.internal.example/war-room-42",
    )
    services.note_add(incident_id=incident.pk, user=second_responder, body=TIMELINE_NOTE)
    make_subscriber("customer@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        for data in (
            form_data(audience="internal", title="", body=INTERNAL_UPDATE),
            form_data(
                components,
                title="Orders cannot be placed",
                body="We are looking into failing orders.",
                states={"Database": State.MAJOR_OUTAGE},
            ),
            form_data(
                components,
                status="identified",
                title="Orders cannot be placed",
                body="We know the cause and are fixing it.",
                states={"Database": State.PARTIAL_OUTAGE},
            ),
        ):
            assert coordinator_client.post(compose_url(incident), data).status_code == 302
        maintenance_announce(
            user=comms,
            title="Database upgrade",
            body="A short read-only period.",
            starts_at=incident.declared_at.replace(year=incident.declared_at.year + 1),
            ends_at=incident.declared_at.replace(year=incident.declared_at.year + 1, hour=23, minute=59),
            components=[components["Database"]],
        )
    timeline = [event.text for event in with_related(incident.events.all())]
    people = [u.display_name for u in (responder, second_responder, coordinator, comms)]
    people += [u.username for u in (responder, second_responder, coordinator, comms)]
    people += [u.email for u in (responder, second_responder, coordinator, comms)]
    return [
        INTERNAL_TITLE,
        TIMELINE_NOTE,
        INTERNAL_UPDATE,
        "db-prod-7",
        "web-eu-2",
        "war-room-42",
        "Orders fail for every customer",
        incident.reference,
        *timeline,
        *people,
    ]


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text, re.IGNORECASE)]


def test_no_public_response_tells_anything_internal(secrets_everywhere: list[str]) -> None:
    public = PublicIncident.objects.get()
    subscriber = make_subscriber("reader@example.org")
    subscriber.confirm_nonce = "abc123"
    subscriber.save()
    start = [reverse(f"comms:{name}") for name in PUBLIC_URL_NAMES]
    start += [
        reverse("comms:public_incident", args=[public.code]),
        reverse("comms:confirm", args=[links.confirm_token(subscriber)]),
        reverse("comms:unsubscribe", args=[links.unsubscribe_token(subscriber)]),
        reverse("comms:confirm", args=["forged-token"]),
    ]
    client = Client()
    seen: set[str] = set()
    queue = deque(start)
    while queue:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        assert response.status_code in {200, 400}, path
        body = response.content.decode()
        assert _leaks(body, secrets_everywhere) == [], path
        # Follow every link the public can follow on this site.
        for link in re.findall(r'href="(/[^"#?]*)', body):
            if not link.startswith(("/static/", "/login")):
                queue.append(link.replace("&amp;", "&"))
    assert "/status/" in seen
    assert len(seen) >= len(start)
    assert all(path.startswith(("/status/", "/api/v2/")) for path in seen), sorted(seen)


def test_the_subscribers_mail_tells_nothing_internal(secrets_everywhere: list[str]) -> None:
    for notice in Notice.objects.all():
        tasks.send_notice(notice.pk)
    assert len(mail.outbox) == 3  # two updates and the maintenance announcement
    for message in mail.outbox:
        html = message.alternatives[0].content  # type: ignore[attr-defined]
        assert _leaks(f"{message.subject}\n{message.body}\n{html}", secrets_everywhere) == []
