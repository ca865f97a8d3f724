"""`manage.py seed_demo`: everything a new user needs to try Incident Center. Idempotent.

Loads the procedures, the status page's default components, one demo contact per role of the
escalation path (example.com addresses, never verified, so the contact sheet asks an admin to
replace them), the local host, and one
user per role: responder, manager, comms and admin. Their password is `DEMO_PASSWORD`, or one
generated and printed once, when the users are first created.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import User
from apps.accounts.services import user_ensure
from apps.comms.services.components import components_load
from apps.contacts.models import Contact, ContactRole
from apps.health.models import Host
from apps.runbooks import procedures
from apps.runbooks.services import procedures_load

DEMO_USERS = [
    ("responder", User.Role.RESPONDER, "Riley", "Responder"),
    ("manager", User.Role.MANAGER, "Morgan", "Manager"),
    ("comms", User.Role.COMMUNICATIONS, "Casey", "Comms"),
    ("admin", User.Role.ADMIN, "Alex", "Admin"),
]

DEMO_CONTACTS = {
    procedures.SYSTEM_ADMINISTRATOR: ("Demo System Administrator", "+44 20 7946 0001", "sysadmin@example.com"),
    procedures.DATABASE_ADMINISTRATOR: ("Demo Database Administrator", "+44 20 7946 0002", "dba@example.com"),
    procedures.TECHNICAL_LEAD: ("Demo Technical Lead", "+44 20 7946 0003", "techlead@example.com"),
    procedures.PROJECT_MANAGER: ("Demo Project Manager", "+44 20 7946 0004", "pm@example.com"),
    procedures.INFRASTRUCTURE_PROVIDER: ("Demo Hosting Support", "+44 20 7946 0005", "https://support.example.com"),
}


class Command(BaseCommand):
    help = "Load the procedures, demo contacts, the local host and one demo user per role. Idempotent."

    def handle(self, *args: object, **options: object) -> None:
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
        with transaction.atomic():
            procedures_load()
            components_load()
            for role_name, (name, primary, secondary) in DEMO_CONTACTS.items():
                role = ContactRole.objects.get(name=role_name)
                if not role.contacts.exists():
                    Contact.objects.create(
                        role=role,
                        name=name,
                        primary_contact=primary,
                        secondary_contact=secondary,
                        notes="Demo entry: replace with the real person and verify.",
                    )
            Host.objects.get_or_create(
                name=settings.INCIDENTCENTER_HOST,
                defaults={
                    "description": "This machine (created by seed_demo)",
                    "services": "postgresql, redis-server, nginx",
                    "website_urls": f"{settings.SITE_URL}/healthz",
                    "app_dir": str(settings.BASE_DIR),
                },
            )
            created = [
                username
                for username, role, first, last in DEMO_USERS
                if user_ensure(username=username, role=role, password=password, first_name=first, last_name=last)[1]
            ]
        if _demo_website(Path(settings.WEB_ROOT)):
            self.stdout.write(f"Demo website written to {settings.WEB_ROOT} (for the web content actions).")
        if created:
            shown = "from DEMO_PASSWORD" if os.environ.get("DEMO_PASSWORD") else password
            self.stdout.write(self.style.WARNING(f"Demo users created: {', '.join(created)}; password: {shown}"))
        else:
            self.stdout.write("Demo users already exist; their passwords are unchanged.")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))


DEMO_PAGES = {
    "index.html": (
        "<!doctype html>\n<title>Mvono Shop</title>\n<h1>Mvono Shop</h1>\n"
        '<p>Welcome. <a href="about.html">About us</a></p>\n'
    ),
    "about.html": "<!doctype html>\n<title>About Mvono</title>\n<h1>About us</h1>\n<p>A demo page.</p>\n",
}


def _demo_website(root: Path) -> bool:
    """A small stand-in for the protected website, so snapshot, verify and restore of web content
    can be tried at once. Only where WEB_ROOT does not exist yet: a real site is never touched."""
    if root.exists():
        return False
    root.mkdir(parents=True)
    for name, html in DEMO_PAGES.items():
        (root / name).write_text(html, encoding="utf-8")
    return True
