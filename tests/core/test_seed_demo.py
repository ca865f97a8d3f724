"""`manage.py seed_demo`: demo users for each role, demo contacts where a role has none, and this
machine as a host. Idempotent: a second run changes no password and duplicates nothing."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.contacts.models import Contact, ContactRole
from apps.health.models import Host
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

DEMO_USERS = {
    "responder": User.Role.RESPONDER,
    "manager": User.Role.MANAGER,
    "comms": User.Role.COMMUNICATIONS,
    "admin": User.Role.ADMIN,
}
DEMO_PASSWORD = "a-long-demo-password-for-tests"


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _signs_in(username: str, password: str) -> bool:
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302 and "_auth_user_id" in client.session


@pytest.fixture
def demo_password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DEMO_PASSWORD", DEMO_PASSWORD)
    return DEMO_PASSWORD


@pytest.fixture
def no_demo_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)


def test_it_creates_one_user_per_role(demo_password: str) -> None:
    _seed()

    assert dict(User.objects.values_list("username", "role")) == DEMO_USERS
    assert list(User.objects.filter(is_staff=True).values_list("username", flat=True)) == ["admin"]
    assert not User.objects.filter(is_superuser=True).exists()
    assert User.objects.get(username="responder").display_name == "Riley Responder"


def test_the_users_sign_in_with_demo_password(demo_password: str) -> None:
    output = _seed()

    assert "Demo users created: responder, manager, comms, admin; password: from DEMO_PASSWORD" in output
    assert demo_password not in output
    for username in DEMO_USERS:
        assert _signs_in(username, demo_password), username
    assert not _signs_in("admin", "wrong-password")


def test_without_demo_password_a_generated_one_is_printed_and_works(no_demo_password: None) -> None:
    output = _seed()

    match = re.search(r"Demo users created: responder, manager, comms, admin; password: (\S+)", output)
    assert match is not None, output
    password = match.group(1)
    assert len(password) >= 12
    for username in DEMO_USERS:
        assert _signs_in(username, password), username


def test_each_run_without_demo_password_generates_a_new_one(no_demo_password: None) -> None:
    first = re.search(r"password: (\S+)", _seed())
    User.objects.all().delete()

    second = re.search(r"password: (\S+)", _seed())

    assert first is not None
    assert second is not None
    assert first.group(1) != second.group(1)


def test_a_second_run_says_the_users_exist_and_keeps_their_passwords(no_demo_password: None) -> None:
    match = re.search(r"password: (\S+)", _seed())
    assert match is not None
    password = match.group(1)
    hashes = dict(User.objects.values_list("username", "password"))

    output = _seed()

    assert "Demo users already exist; their passwords are unchanged." in output
    assert "password:" not in output
    assert password not in output
    assert dict(User.objects.values_list("username", "password")) == hashes
    assert _signs_in("admin", password)


def test_a_second_run_ignores_a_new_demo_password(monkeypatch: pytest.MonkeyPatch, demo_password: str) -> None:
    _seed()
    monkeypatch.setenv("DEMO_PASSWORD", "a-different-password-now")

    _seed()

    assert _signs_in("manager", demo_password)
    assert not _signs_in("manager", "a-different-password-now")


def test_a_missing_demo_user_is_added_with_the_others_left_alone(demo_password: str) -> None:
    _seed()
    User.objects.filter(username="comms").delete()
    User.objects.filter(username="manager").update(role=User.Role.RESPONDER)

    output = _seed()

    assert "Demo users created: comms;" in output
    assert User.objects.get(username="comms").role == User.Role.COMMUNICATIONS
    assert User.objects.get(username="manager").role == User.Role.RESPONDER  # an admin's change stands


def test_it_creates_this_machine_as_the_one_host(demo_password: str) -> None:
    _seed()
    _seed()

    assert list(Host.objects.values_list("name", flat=True)) == [settings.INCIDENTCENTER_HOST]


def test_it_adds_a_demo_contact_for_each_role_of_the_path(demo_password: str) -> None:
    _seed()

    contacts = {contact.role.name: contact for contact in Contact.objects.select_related("role")}
    assert set(contacts) == {
        "System Administrator",
        "Database Administrator",
        "Technical Lead",
        "Project Manager",
        "Infrastructure Provider",
    }
    assert contacts["Database Administrator"].name == "Demo Database Administrator"
    assert all(contact.needs_verification for contact in contacts.values())


def test_demo_contacts_are_only_added_for_roles_without_contacts(demo_password: str) -> None:
    real = ContactFactory(role=ContactRole.objects.create(name="System Administrator"), name="Sam Sysadmin")

    _seed()
    _seed()

    assert list(Contact.objects.filter(role=real.role).values_list("name", flat=True)) == ["Sam Sysadmin"]
    assert Contact.objects.count() == 5
    assert Contact.objects.filter(name__startswith="Demo ").count() == 4


def test_a_removed_demo_contact_comes_back_only_while_its_role_has_nobody(demo_password: str) -> None:
    _seed()
    Contact.objects.filter(name="Demo Technical Lead").delete()
    ContactFactory(role=ContactRole.objects.get(name="Project Manager"), name="Pat PM")

    _seed()

    assert Contact.objects.filter(name="Demo Technical Lead").count() == 1
    assert sorted(Contact.objects.filter(role__name="Project Manager").values_list("name", flat=True)) == [
        "Demo Project Manager",
        "Pat PM",
    ]


def test_the_demo_admin_opens_the_contact_sheet_editor(demo_password: str) -> None:
    _seed()
    client = Client()
    client.login(username="admin", password=demo_password)

    html = client.get(reverse("contacts:sheet")).content.decode()

    assert "Demo Database Administrator" in html
    assert reverse("contacts:create") in html


def test_a_demo_website_is_written_only_where_none_exists(tmp_path) -> None:
    from django.test import override_settings

    site = tmp_path / "www"
    with override_settings(WEB_ROOT=site):
        assert "Demo website written" in _seed()
        assert "Mvono Shop" in (site / "index.html").read_text()
        (site / "index.html").write_text("the real site")
        assert "Demo website written" not in _seed()
    assert (site / "index.html").read_text() == "the real site"
