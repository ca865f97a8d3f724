"""Scheduled maintenance windows: announced in advance by the communications role, shown on the
status page, components under maintenance while they run, cancelled or finished early."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from apps.comms.models import Component, Delivery, MaintenanceWindow
from tests.comms.conftest import make_subscriber

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)
URL = "/comms/maintenance/"


def _form(known: dict[str, Component], **change: Any) -> dict[str, Any]:
    return {
        "title": "Database upgrade",
        "body": "The application is read-only for up to an hour.",
        "starts_at": "2026-05-07T02:00",
        "ends_at": "2026-05-07T03:00",
        "components": [known["Database"].pk],
        "notify": "on",
        **change,
    }


def test_comms_announce_a_window_and_subscribers_are_told(
    comms_client: Client, components: dict[str, Component]
) -> None:
    make_subscriber("all@example.org")
    make_subscriber("web@example.org", all_components=False, components=[components["Website"]])
    with time_machine.travel(NOW, tick=False):
        response = comms_client.post(URL, _form(components))
        assert response.status_code == 302
        window = MaintenanceWindow.objects.get()
        assert window.starts_at == datetime(2026, 5, 7, 2, 0, tzinfo=UTC)  # the comms user's zone is UTC
        assert list(Delivery.objects.values_list("subscriber__email", flat=True)) == ["all@example.org"]
        listed = comms_client.get(URL).content.decode()
        assert "Database upgrade" in listed
        assert "Scheduled" in listed
        page = Client().get("/status/").content.decode()
        assert "Database upgrade" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ends_at": "2026-05-07T01:00"}, "The window must end after it starts."),
        ({"starts_at": "2026-05-01T01:00", "ends_at": "2026-05-01T02:00"}, "That window is already over"),
        ({"components": []}, "This field is required."),
        ({"title": ""}, "This field is required."),
        ({"body": "<script>x</script>"}, "Scripts are not allowed in updates."),
        ({"starts_at": "tomorrow"}, "Enter a valid date/time."),
    ],
)
def test_bad_windows_are_refused_with_a_clear_message(
    comms_client: Client, components: dict[str, Component], change: dict[str, Any], message: str
) -> None:
    with time_machine.travel(NOW, tick=False):
        response = comms_client.post(URL, _form(components, **change))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.parametrize("who", ["responder_client", "manager_client"])
def test_only_comms_and_admins_announce(
    request: pytest.FixtureRequest, who: str, components: dict[str, Component]
) -> None:
    client = request.getfixturevalue(who)
    page = client.get(URL)
    assert page.status_code == 200
    assert "Announce maintenance" not in page.content.decode()
    with time_machine.travel(NOW, tick=False):
        assert client.post(URL, _form(components)).status_code == 403
    assert not MaintenanceWindow.objects.exists()


def test_a_cancelled_window_leaves_the_page(
    comms_client: Client, components: dict[str, Component], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with time_machine.travel(NOW, tick=False):
        comms_client.post(URL, _form(components))
        window = MaintenanceWindow.objects.get()
        assert "Database upgrade" in Client().get("/status/").content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            assert comms_client.post(reverse("comms:maintenance_cancel", args=[window.pk])).status_code == 302
        assert "Database upgrade" not in Client().get("/status/").content.decode()
        again = comms_client.post(reverse("comms:maintenance_cancel", args=[window.pk]), follow=True)
        assert "That window was already cancelled." in again.content.decode()


def test_a_window_finished_early_gives_the_components_back(
    comms_client: Client,
    responder_client: Client,
    components: dict[str, Component],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        comms_client.post(URL, _form(components))
        window = MaintenanceWindow.objects.get()
        clock.move_to(datetime(2026, 5, 7, 2, 30, tzinfo=UTC))
        assert "Service Under Maintenance" in Client().get("/status/").content.decode()
        assert responder_client.post(reverse("comms:maintenance_finish", args=[window.pk])).status_code == 403
        with django_capture_on_commit_callbacks(execute=True):
            assert comms_client.post(reverse("comms:maintenance_finish", args=[window.pk])).status_code == 302
        page = Client().get("/status/").content.decode()
        assert "All Systems Operational" in page
        window.refresh_from_db()
        assert window.ends_at == datetime(2026, 5, 7, 2, 30, tzinfo=UTC)


def _buttons(client: Client) -> tuple[bool, bool]:
    page = client.get(URL).content.decode()
    return "Finished early</button>" in page, ">Cancel</button>" in page


def test_the_window_buttons_follow_its_transitions(comms_client: Client, components: dict[str, Component]) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        comms_client.post(URL, _form(components))
        window = MaintenanceWindow.objects.get()
        assert window.status == MaintenanceWindow.Status.SCHEDULED
        assert _buttons(comms_client) == (False, True)  # it can be called off, not finished
        clock.move_to(datetime(2026, 5, 7, 2, 30, tzinfo=UTC))
        assert _buttons(comms_client) == (True, True)
        early = comms_client.post(reverse("comms:maintenance_finish", args=[window.pk]), follow=True)
        assert "is finished" in early.content.decode()
        assert _buttons(comms_client) == (False, False)
        again = comms_client.post(reverse("comms:maintenance_finish", args=[window.pk]), follow=True)
        assert "Only a window in progress can be finished early." in again.content.decode()
        late = comms_client.post(reverse("comms:maintenance_cancel", args=[window.pk]), follow=True)
        assert "That window is over; it stays in the history." in late.content.decode()


def test_a_scheduled_window_cannot_be_finished_early(comms_client: Client, components: dict[str, Component]) -> None:
    with time_machine.travel(NOW, tick=False):
        comms_client.post(URL, _form(components))
        window = MaintenanceWindow.objects.get()
        response = comms_client.post(reverse("comms:maintenance_finish", args=[window.pk]), follow=True)
    assert "Only a window in progress can be finished early." in response.content.decode()
    window.refresh_from_db()
    assert window.ends_at == datetime(2026, 5, 7, 3, 0, tzinfo=UTC)
