"""The status page's default components: the parts of the protected system (a Django, PostgreSQL
and nginx business application) as its users know them. Admins change them in the admin."""

from __future__ import annotations

from django.db import transaction

from apps.comms import publiccache
from apps.comms.models import Component

DEFAULT_COMPONENTS = [
    ("Website", "The public website."),
    ("Application", "Signing in and working in the management system."),
    ("Database", "Saving and finding records, reports."),
    ("Email", "Notifications and messages sent by the system."),
]


def components_load() -> list[Component]:
    """Create the default components that are missing; never changes or removes existing ones.
    Idempotent (run by `seed_demo`)."""
    with transaction.atomic():
        existing = set(Component.objects.values_list("name", flat=True))
        for position, (name, description) in enumerate(DEFAULT_COMPONENTS, start=1):
            if name not in existing:
                Component.objects.create(name=name, description=description, position=position * 10)
        publiccache.invalidate()
    return list(Component.objects.all())


def component_changed() -> None:
    """An admin added, edited or removed a component: the public page follows."""
    publiccache.invalidate()
