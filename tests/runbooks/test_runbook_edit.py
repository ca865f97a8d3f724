"""Admins edit a runbook: its fields and its steps through one formset. Step numbers only order
the steps; the saved runbook is numbered 1..n. Other roles are refused."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.contacts.models import ContactRole
from apps.incidents.models import ChecklistItem
from apps.runbooks.models import Runbook
from tests.factories import declare_incident
from tests.runbooks.helpers import current_steps, runbook_post_data, step_positions, step_titles

pytestmark = pytest.mark.django_db

ORIGINAL = [
    "Assess database status",
    "Check database logs",
    "Restart database service",
    "Check for corruption",
    "Restore from backup (if necessary)",
]


def _url(runbook: Runbook) -> str:
    return reverse("runbooks:edit", args=[runbook.pk])


def test_an_admin_sees_the_runbook_and_its_steps_in_the_form(admin_client_: Client, database_failure: Runbook) -> None:
    response = admin_client_.get(_url(database_failure))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="Database Failure"' in html
    for title in ORIGINAL:
        assert f'value="{title}"' in html
    assert 'name="steps-TOTAL_FORMS" value="6"' in html  # five steps and one blank for a new step
    assert "New step" in html


def test_saving_unchanged_keeps_the_steps_and_goes_to_the_runbook(
    admin_client_: Client, database_failure: Runbook
) -> None:
    response = admin_client_.post(
        _url(database_failure), runbook_post_data(database_failure, current_steps(database_failure))
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("runbooks:detail", args=[database_failure.pk])
    assert step_titles(database_failure) == ORIGINAL
    assert step_positions(database_failure) == [1, 2, 3, 4, 5]


def test_the_runbooks_own_fields_are_saved(admin_client_: Client, database_failure: Runbook) -> None:
    technical_lead = ContactRole.objects.get(name="Technical Lead")

    admin_client_.post(
        _url(database_failure),
        runbook_post_data(
            database_failure,
            current_steps(database_failure),
            title="Database failure (primary)",
            summary="The primary does not answer.",
            first_contact_role=technical_lead.pk,
        ),
    )

    database_failure.refresh_from_db()
    assert database_failure.title == "Database failure (primary)"
    assert database_failure.summary == "The primary does not answer."
    assert database_failure.first_contact_role == technical_lead


def test_the_user_sees_that_the_runbook_was_saved(admin_client_: Client, database_failure: Runbook) -> None:
    response = admin_client_.post(
        _url(database_failure), runbook_post_data(database_failure, current_steps(database_failure)), follow=True
    )

    assert "Database Failure saved. Incidents already declared keep their checklist." in response.content.decode()


def test_changing_a_number_moves_the_step_and_renumbers(admin_client_: Client, database_failure: Runbook) -> None:
    steps = current_steps(database_failure)
    steps[0]["position"] = 6  # "Assess database status" after the last step

    admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert step_titles(database_failure) == [*ORIGINAL[1:], ORIGINAL[0]]
    assert step_positions(database_failure) == [1, 2, 3, 4, 5]


def test_two_steps_sharing_a_number_keep_their_order_on_the_page(
    admin_client_: Client, database_failure: Runbook
) -> None:
    steps = current_steps(database_failure)
    steps[3]["position"] = 2  # "Check for corruption" shares 2 with "Check database logs"

    response = admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert response.status_code == 302
    assert step_titles(database_failure) == [
        "Assess database status",
        "Check database logs",
        "Check for corruption",
        "Restart database service",
        "Restore from backup (if necessary)",
    ]
    assert step_positions(database_failure) == [1, 2, 3, 4, 5]


def test_swapping_two_numbers_swaps_the_steps(admin_client_: Client, database_failure: Runbook) -> None:
    steps = current_steps(database_failure)
    steps[1]["position"], steps[2]["position"] = 3, 2

    response = admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert response.status_code == 302
    assert step_titles(database_failure) == [
        "Assess database status",
        "Restart database service",
        "Check database logs",
        "Check for corruption",
        "Restore from backup (if necessary)",
    ]
    assert step_positions(database_failure) == [1, 2, 3, 4, 5]


def test_gaps_and_large_numbers_are_renumbered_one_to_n(admin_client_: Client, database_failure: Runbook) -> None:
    steps = current_steps(database_failure)
    for step, number in zip(steps, [10, 20, 30, 40, 50], strict=True):
        step["position"] = number

    admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert step_titles(database_failure) == ORIGINAL
    assert step_positions(database_failure) == [1, 2, 3, 4, 5]


def test_a_step_numbered_zero_goes_first(admin_client_: Client, database_failure: Runbook) -> None:
    steps = current_steps(database_failure)
    steps[4]["position"] = 0

    admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert step_titles(database_failure)[0] == "Restore from backup (if necessary)"
    assert step_positions(database_failure) == [1, 2, 3, 4, 5]


def test_deleting_a_step_removes_it_and_renumbers(admin_client_: Client, database_failure: Runbook) -> None:
    steps = current_steps(database_failure)
    steps[1]["DELETE"] = True

    admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert step_titles(database_failure) == [title for title in ORIGINAL if title != "Check database logs"]
    assert step_positions(database_failure) == [1, 2, 3, 4]


def test_adding_a_step_inserts_it_where_its_number_says(admin_client_: Client, database_failure: Runbook) -> None:
    steps = current_steps(database_failure)
    for step in steps[1:]:
        step["position"] += 1  # make room at 2
    steps.append({"position": 2, "title": "Page the DBA", "guidance": "Call `+44 20 7946 0002`.", "action": ""})

    admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert step_titles(database_failure) == [ORIGINAL[0], "Page the DBA", *ORIGINAL[1:]]
    assert step_positions(database_failure) == [1, 2, 3, 4, 5, 6]
    added = database_failure.steps.get(title="Page the DBA")
    assert added.guidance == "Call `+44 20 7946 0002`."
    assert added.action == ""


def test_a_new_step_can_name_an_action(admin_client_: Client, database_failure: Runbook) -> None:
    steps = [*current_steps(database_failure), {"position": 99, "title": "Back up first", "action": "backup_database"}]

    admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert step_titles(database_failure)[-1] == "Back up first"
    assert database_failure.steps.get(title="Back up first").action == "backup_database"


def test_an_unknown_action_is_refused(admin_client_: Client, database_failure: Runbook) -> None:
    steps = current_steps(database_failure)
    steps[0]["action"] = "rm_rf_everything"

    response = admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert database_failure.steps.get(position=1).action == ""


def test_a_blank_extra_step_is_ignored(admin_client_: Client, database_failure: Runbook) -> None:
    steps = [*current_steps(database_failure), {}]

    response = admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert response.status_code == 302
    assert step_titles(database_failure) == ORIGINAL


def test_deleting_every_step_is_refused_with_a_message(admin_client_: Client, database_failure: Runbook) -> None:
    steps = current_steps(database_failure)
    for step in steps:
        step["DELETE"] = True

    response = admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert response.status_code == 400
    assert "A runbook needs at least one step." in response.content.decode()
    assert step_titles(database_failure) == ORIGINAL


def test_a_runbook_without_a_title_is_refused(admin_client_: Client, database_failure: Runbook) -> None:
    response = admin_client_.post(
        _url(database_failure), runbook_post_data(database_failure, current_steps(database_failure), title="")
    )

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    database_failure.refresh_from_db()
    assert database_failure.title == "Database Failure"


def test_a_step_without_a_title_is_refused(admin_client_: Client, database_failure: Runbook) -> None:
    steps = current_steps(database_failure)
    steps[2]["title"] = ""

    response = admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert step_titles(database_failure) == ORIGINAL


def test_editing_leaves_a_declared_incidents_checklist_alone(
    admin_client_: Client, database_failure: Runbook, responder: User
) -> None:
    incident = declare_incident(responder)
    before = list(incident.checklist.order_by("position").values_list("title", flat=True))
    steps = current_steps(database_failure)
    steps[0]["DELETE"] = True

    admin_client_.post(_url(database_failure), runbook_post_data(database_failure, steps))

    assert "Assess database status" not in step_titles(database_failure)
    assert list(
        ChecklistItem.objects.filter(incident=incident).order_by("position").values_list("title", flat=True)
    ) == (before)
    assert "Assess database status" in before


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_open_the_editor(
    request: pytest.FixtureRequest, client_name: str, database_failure: Runbook
) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.get(_url(database_failure))

    assert response.status_code == 403
    assert "Your role does not allow this." in response.content.decode()


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client"])
def test_other_roles_cannot_save_a_runbook(
    request: pytest.FixtureRequest, client_name: str, database_failure: Runbook
) -> None:
    client: Client = request.getfixturevalue(client_name)
    steps = current_steps(database_failure)
    steps[0]["DELETE"] = True

    response = client.post(_url(database_failure), runbook_post_data(database_failure, steps, title="Hijacked"))

    assert response.status_code == 403
    database_failure.refresh_from_db()
    assert database_failure.title == "Database Failure"
    assert step_titles(database_failure) == ORIGINAL


def test_anonymous_visitor_is_sent_to_sign_in(client: Client, database_failure: Runbook) -> None:
    response = client.post(_url(database_failure), runbook_post_data(database_failure, [], title="Hijacked"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    database_failure.refresh_from_db()
    assert database_failure.title == "Database Failure"


def test_an_unknown_runbook_is_not_found(admin_client_: Client, procedures: list[Runbook]) -> None:
    assert admin_client_.get(reverse("runbooks:edit", args=[999_999])).status_code == 404
