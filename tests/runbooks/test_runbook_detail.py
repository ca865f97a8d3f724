"""A runbook's page: what a responder follows (Initial Response, the scenario, Post-Emergency),
with guidance rendered from Markdown and sanitised, readable by every role."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.runbooks.models import Runbook, RunbookStep

pytestmark = pytest.mark.django_db


def _url(runbook: Runbook) -> str:
    return reverse("runbooks:detail", args=[runbook.pk])


@pytest.mark.parametrize("client_name", ["responder_client", "manager_client", "comms_client", "admin_client_"])
def test_every_role_reads_a_runbook(
    request: pytest.FixtureRequest, client_name: str, database_failure: Runbook
) -> None:
    client: Client = request.getfixturevalue(client_name)

    response = client.get(_url(database_failure))

    assert response.status_code == 200
    assert "<h1>Database Failure</h1>" in response.content.decode()


def test_a_scenario_is_shown_between_the_shared_phases_in_order(
    responder_client: Client, database_failure: Runbook
) -> None:
    html = responder_client.get(_url(database_failure)).content.decode()

    order = [
        "Assess the situation",  # Initial Response
        "Implement immediate mitigation",
        "Assess database status",  # the scenario
        "Check database logs",
        "Restart database service",
        "Check for corruption",
        "Restore from backup (if necessary)",
        "Verify system stability",  # Post-Emergency
        "Preventive measures",
    ]
    positions = [html.index(f'<span class="step-title">{title}</span>') for title in order]
    assert positions == sorted(positions)
    assert html.index(">Initial Response</a></h2>") < html.index("<h2>Database Failure</h2>")
    assert html.index("<h2>Database Failure</h2>") < html.index(">Post-Emergency Actions</a></h2>")


def test_guidance_commands_are_shown_as_code_blocks(responder_client: Client, database_failure: Runbook) -> None:
    html = responder_client.get(_url(database_failure)).content.decode()

    assert "<pre><code>sudo systemctl status postgresql\nsudo journalctl -u postgresql\n</code></pre>" in html


def test_a_step_shows_the_action_it_runs(responder_client: Client, database_failure: Runbook) -> None:
    html = responder_client.get(_url(database_failure)).content.decode()

    assert 'Restore from backup (if necessary)</span> <span class="action-tag">Action: Restore the database</span>' in (
        html
    )


def test_it_names_who_to_call_first_and_links_the_contact_sheet(
    responder_client: Client, database_failure: Runbook
) -> None:
    html = responder_client.get(_url(database_failure)).content.decode()

    assert f'Database Administrator (<a href="{reverse("contacts:sheet")}">contact sheet</a>)' in html


def test_a_shared_phase_is_shown_on_its_own(responder_client: Client, procedures: list[Runbook]) -> None:
    initial = Runbook.objects.get(kind=Runbook.Kind.INITIAL_RESPONSE)

    html = responder_client.get(_url(initial)).content.decode()

    assert "<h2>Initial Response</h2>" in html
    assert "Post-Emergency Actions" not in html
    assert "?scenario=" not in html


def test_a_responder_is_offered_to_declare_the_scenario_but_not_to_edit(
    responder_client: Client, database_failure: Runbook
) -> None:
    html = responder_client.get(_url(database_failure)).content.decode()

    assert f"{reverse('incidents:declare')}?scenario=database_failure" in html
    assert reverse("runbooks:edit", args=[database_failure.pk]) not in html
    assert "Mark reviewed today" not in html


@pytest.mark.parametrize("client_name", ["manager_client", "comms_client"])
def test_managers_and_comms_are_offered_neither_declare_nor_edit(
    request: pytest.FixtureRequest, client_name: str, database_failure: Runbook
) -> None:
    client: Client = request.getfixturevalue(client_name)

    html = client.get(_url(database_failure)).content.decode()

    assert "?scenario=database_failure" not in html
    assert reverse("runbooks:edit", args=[database_failure.pk]) not in html
    assert "Mark reviewed today" not in html


def test_an_admin_is_offered_edit_and_mark_reviewed(admin_client_: Client, database_failure: Runbook) -> None:
    html = admin_client_.get(_url(database_failure)).content.decode()

    assert reverse("runbooks:edit", args=[database_failure.pk]) in html
    assert reverse("runbooks:reviewed", args=[database_failure.pk]) in html


def test_script_in_step_guidance_is_not_shown_as_a_script(responder_client: Client, database_failure: Runbook) -> None:
    RunbookStep.objects.filter(runbook=database_failure, position=1).update(
        guidance=(
            "Check this:\n\n<script>alert('owned')</script>\n\n"
            '<img src=x onerror="alert(1)">\n\n[click](javascript:alert(2))'
        )
    )

    html = responder_client.get(_url(database_failure)).content.decode()

    assert "<script>alert" not in html
    assert "alert('owned')" not in html
    assert "onerror" not in html
    assert "javascript:" not in html
    assert "<p>Check this:</p>" in html


def test_a_step_title_with_html_is_escaped(responder_client: Client, database_failure: Runbook) -> None:
    RunbookStep.objects.filter(runbook=database_failure, position=1).update(title="<b>Bold</b> move")

    html = responder_client.get(_url(database_failure)).content.decode()

    assert "&lt;b&gt;Bold&lt;/b&gt; move" in html
    assert "<b>Bold</b>" not in html


def test_an_unknown_runbook_is_not_found(responder_client: Client, procedures: list[Runbook]) -> None:
    response = responder_client.get(reverse("runbooks:detail", args=[999_999]))

    assert response.status_code == 404


def test_anonymous_visitor_is_sent_to_sign_in(client: Client, database_failure: Runbook) -> None:
    url = _url(database_failure)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"
