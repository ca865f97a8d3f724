"""Fixtures for the paging tests: real SMTP and HTTP servers on 127.0.0.1 wired into the
settings, the procedures' escalation path with a contact per level, and helpers that run what
Celery would run, when it would run it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.contacts.models import Contact, ContactRole
from apps.incidents.models import EventKind, Incident, TimelineEvent
from apps.paging.models import Channel, Escalation
from apps.paging.tasks import run_escalation_step
from apps.runbooks import procedures as names
from apps.runbooks.models import Runbook
from tests.conftest import smtp_mailers
from tests.factories import ContactFactory, declare_incident
from tests.paging.servers import HttpServer, SmtpServer, start_http, start_smtp

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server, controller = start_smtp()
    yield server
    controller.stop()


@pytest.fixture
def http() -> Iterator[HttpServer]:
    server: HttpServer
    httpd: ThreadingHTTPServer
    server, httpd = start_http()
    yield server
    server.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def paging_settings(settings: Any, smtp: SmtpServer, http: HttpServer) -> None:
    """Mail through the test SMTP server, SMS through the test gateway, short timeouts."""
    settings.MAILERS = smtp_mailers(smtp.port, timeout=2)
    settings.MAIL_TIMEOUT_SECONDS = 2
    settings.PAGING_HTTP_TIMEOUT_SECONDS = 1
    settings.PAGING_SMS_URL = f"{http.url}/ok/sms"
    settings.PAGING_SMS_AUTH_HEADER = "Authorization: Bearer test-gateway-token"
    settings.SITE_URL = "http://incidents.test"
    settings.PAGING_REPEATS = 1
    settings.PAGING_WIDE_SEVERITIES = ["sev1"]
    settings.PAGING_ON_DECLARE = True
    # The stand-in chat webhooks run on 127.0.0.1: opt in to private addresses, as a deployment
    # with an internal chat server would (test_outbound_guard proves the default refuses them).
    settings.OUTBOUND_ALLOW_PRIVATE = True


@dataclass
class People:
    sysadmin: Contact
    dba: Contact
    lead: Contact
    pm: Contact
    infra: Contact


def add_channel(contact: Contact, kind: str, address: str, priority: str = Channel.Priority.PRIMARY) -> Channel:
    return Channel.objects.create(contact=contact, kind=kind, address=address, priority=priority)


@pytest.fixture
def people(procedures: list[Runbook], http: HttpServer) -> People:
    """One contact per level of the procedures' escalation path, each with real channels."""

    def contact(role: str, name: str) -> Contact:
        return ContactFactory(role=ContactRole.objects.get(name=role), name=name)  # type: ignore[no-any-return]

    found = People(
        sysadmin=contact(names.SYSTEM_ADMINISTRATOR, "Sam Sysadmin"),
        dba=contact(names.DATABASE_ADMINISTRATOR, "Dana Dba"),
        lead=contact(names.TECHNICAL_LEAD, "Terry Lead"),
        pm=contact(names.PROJECT_MANAGER, "Pat Manager"),
        infra=contact(names.INFRASTRUCTURE_PROVIDER, "Ivy Hosting"),
    )
    add_channel(found.sysadmin, Channel.Kind.EMAIL, "sam@example.com")
    add_channel(found.dba, Channel.Kind.EMAIL, "dana@example.com")
    add_channel(found.dba, Channel.Kind.WEBHOOK, f"{http.url}/ok/dana", Channel.Priority.SECONDARY)
    add_channel(found.lead, Channel.Kind.SMS, "+44 20 7946 0003")
    add_channel(found.lead, Channel.Kind.EMAIL, "terry@example.com", Channel.Priority.SECONDARY)
    add_channel(found.pm, Channel.Kind.WEBHOOK, f"{http.url}/ok/pat")
    add_channel(found.infra, Channel.Kind.EMAIL, "ivy@hosting.example.com")
    return found


@pytest.fixture
def declare(django_capture_on_commit_callbacks: Any) -> Callable[..., Incident]:
    """Declare an incident as the declare view does, and deliver what the commit would send:
    the `incident_declared` signal starts paging. Celery messages sent by what it does stay in
    the test's transaction, unsent: the tests run steps themselves with `fire`."""

    def run(user: User, **kwargs: Any) -> Incident:
        with django_capture_on_commit_callbacks() as callbacks:
            incident = declare_incident(user, **kwargs)
        for callback in callbacks:
            callback()
        return incident

    return run


def escalation_of(incident: Incident) -> Escalation:
    return Escalation.objects.select_related("active_step").get(incident=incident)


def fire(incident: Incident) -> str:
    """Run the incident's active escalation step as the worker does when its countdown ends."""
    escalation = escalation_of(incident)
    assert escalation.active_step_id is not None, "no step is scheduled"
    return str(run_escalation_step(escalation.active_step_id))


@pytest.fixture
def anonymous() -> Client:
    return Client()


def events(incident: Incident, kind: EventKind | None = None) -> list[TimelineEvent]:
    """The incident's events in the order they happened (of one kind when given)."""
    found = TimelineEvent.objects.filter(incident=incident).order_by("at", "pk")
    return list(found.filter(kind=kind) if kind else found)


def kinds(incident: Incident) -> list[str]:
    return [event.kind for event in events(incident)]
