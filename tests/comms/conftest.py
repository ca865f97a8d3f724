"""Fixtures for stakeholder communications: the default components, a SEV1 incident with a
communication coordinator, subscribers, and helpers that post updates as the browser does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.comms import publiccache
from apps.comms.models import Component, ComponentState, Subscriber, Update
from apps.comms.services.components import components_load
from apps.comms.services.updates import Draft, update_post
from apps.incidents.models import Incident, Severity
from apps.runbooks.models import Runbook, Scenario
from tests.factories import declare_incident

HTMX = {"HTTP_HX_REQUEST": "true"}
State = ComponentState


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_public_cache(request: pytest.FixtureRequest, settings: Any) -> Iterator[None]:
    """Each test starts with an empty cache of its own: no page of another test (the database is
    rolled back between tests, a shared cache is not), no rate-limit count. Tests marked `redis`
    use the configured Redis cache, under a new generation."""
    if request.node.get_closest_marker("redis") is None:
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
        }
    publiccache.invalidate_now()
    yield
    publiccache.invalidate_now()


@pytest.fixture
def components(db: None) -> dict[str, Component]:
    return {c.name: c for c in components_load()}


@pytest.fixture
def coordinator(make_user: Callable[..., User]) -> User:
    """A responder who is the incident's communication coordinator."""
    return make_user(User.Role.RESPONDER, username="cora", first_name="Cora", last_name="Coordinator")


@pytest.fixture
def coordinator_client(coordinator: User) -> Client:
    client = Client()
    client.force_login(coordinator)
    return client


@pytest.fixture
def incident(responder: User, coordinator: User, components: dict[str, Component]) -> Incident:
    """A SEV1 database failure (declared without the procedures loaded: no checklist, which
    these tests do not need; `incident_with_checklist` has one)."""
    return _declare(responder, coordinator)


@pytest.fixture
def incident_with_checklist(
    procedures: list[Runbook], responder: User, coordinator: User, components: dict[str, Component]
) -> Incident:
    return _declare(responder, coordinator)


def _declare(responder: User, coordinator: User) -> Incident:
    return declare_incident(
        responder,
        scenario=Scenario.DATABASE_FAILURE,
        severity=Severity.SEV1,
        title="Primary database db-prod-7 refuses connections",
        coordinator=coordinator,
        affected_components="Database on db-prod-7, and the application with it",
        impact="Customers cannot save or open their records.",
    )


def form_data(
    components: dict[str, Component] | None = None,
    *,
    audience: str = Update.Audience.PUBLIC,
    status: str = Update.Status.INVESTIGATING,
    title: str = "Slow or failing requests",
    body: str = "We are investigating slow or failing requests.",
    states: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The composer's fields as the browser posts them."""
    data: dict[str, Any] = {"audience": audience, "status": status, "title": title, "body": body, **extra}
    for name, state in (states or {}).items():
        assert components is not None
        data[f"component_{components[name].code}"] = state
    return data


def compose_url(incident: Incident) -> str:
    return reverse("comms:compose", args=[incident.pk])


def post(
    user: User,
    incident: Incident,
    components: dict[str, Component] | None = None,
    *,
    audience: str = Update.Audience.PUBLIC,
    status: str = Update.Status.INVESTIGATING,
    title: str = "Slow or failing requests",
    body: str = "We are investigating slow or failing requests.",
    states: dict[str, str] | None = None,
    corrects: Update | None = None,
) -> Update:
    """Post an update through the service, as the view does after validating the form."""
    by_name = components or {}
    return update_post(
        incident_id=incident.pk,
        author=user,
        draft=Draft(
            audience=audience,
            status=status,
            title=title,
            body=body,
            component_states={by_name[name].pk: state for name, state in (states or {}).items()},
            corrects_id=corrects.pk if corrects else None,
        ),
    )


def make_subscriber(
    email: str, *, all_components: bool = True, components: list[Component] | None = None, confirmed: bool = True
) -> Subscriber:
    """A subscriber as the confirmation link leaves it."""
    subscriber = Subscriber.objects.create(
        email=email,
        all_components=all_components,
        confirmed_at=timezone.now() if confirmed else None,
    )
    subscriber.components.set(components or [])
    return subscriber
