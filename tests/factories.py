"""Test data factories. Incidents are declared through the service, as users declare them, so
they carry their checklist and timeline events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import factory

from apps.accounts.models import User
from apps.contacts.models import Contact, ContactRole
from apps.incidents import services
from apps.incidents.models import ChecklistItem, Incident, Severity
from apps.runbooks.models import Scenario

if TYPE_CHECKING:
    from apps.remediation.models import ActionRun

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = User.Role.RESPONDER
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class ContactRoleFactory(factory.django.DjangoModelFactory[ContactRole]):
    class Meta:
        model = ContactRole
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Role {n}")


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    role = factory.SubFactory(ContactRoleFactory)
    name = factory.Faker("name")
    primary_contact = "+44 20 7946 0999"
    secondary_contact = factory.LazyAttribute(lambda c: f"{c.name.split()[0].lower()}@example.com")


def declare_incident(
    user: User,
    *,
    scenario: str = Scenario.DATABASE_FAILURE,
    severity: str = Severity.SEV2,
    title: str = "Database not answering",
    **kwargs: Any,
) -> Incident:
    return services.incident_declare(declared_by=user, title=title, scenario=scenario, severity=severity, **kwargs)


def make_run(
    incident: Incident,
    user: User | None,
    *,
    item: ChecklistItem | None = None,
    action: str = "restart_service",
    host_name: str = "db-1",
    **fields: Any,
) -> ActionRun:
    """An action run row for the incident, written directly (no request, approval or worker): for
    tests that need a real run to reference, not the remediation flow."""
    from apps.health.models import Host
    from apps.remediation.models import ActionRun

    host, _ = Host.objects.get_or_create(name=host_name)
    return ActionRun.objects.create(
        action=action, host=host, incident=incident, checklist_item=item, requested_by=user, **fields
    )
