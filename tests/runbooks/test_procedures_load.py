"""`procedures_load()`, `manage.py load_procedures` and `manage.py seed_demo` write the emergency
procedures: five scenario runbooks between the shared Initial Response and Post-Emergency phases,
the contact roles and the escalation path. Loading again changes nothing an admin has edited."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.contacts.models import ContactRole, EscalationLevel
from apps.contacts.services import escalation_level_move
from apps.runbooks.models import Runbook, RunbookStep, Scenario
from apps.runbooks.services import procedures_load, runbook_save
from tests.runbooks.helpers import step_positions, step_titles

pytestmark = pytest.mark.django_db

SEED_ESCALATION_PATH = [
    ("System Administrator", 15),
    ("Database Administrator", 15),
    ("Technical Lead", 15),
    ("Project Manager", 30),
    ("Infrastructure Provider", 30),
]

SCENARIO_STEPS = {
    Scenario.SYSTEM_OUTAGE: [
        "Verify outage",
        "Check infrastructure",
        "Restore service",
        "Restore from backup (if necessary)",
    ],
    Scenario.DATA_CORRUPTION: [
        "Contain the issue",
        "Assess corruption scope",
        "Restore from backup",
        "Data reconciliation",
    ],
    Scenario.SECURITY_BREACH: [
        "Isolate affected systems",
        "Preserve evidence",
        "Change credentials",
        "Patch vulnerabilities",
    ],
    Scenario.DATABASE_FAILURE: [
        "Assess database status",
        "Check database logs",
        "Restart database service",
        "Check for corruption",
        "Restore from backup (if necessary)",
    ],
    Scenario.WEBSITE_DEFACEMENT: [
        "Take website offline",
        "Identify compromise method",
        "Restore clean content",
        "Secure the environment",
    ],
}


def _counts() -> dict[str, int]:
    return {
        "runbooks": Runbook.objects.count(),
        "steps": RunbookStep.objects.count(),
        "roles": ContactRole.objects.count(),
        "levels": EscalationLevel.objects.count(),
    }


def _path() -> list[tuple[str, int]]:
    return [(level.role.name, level.ack_timeout_minutes) for level in EscalationLevel.objects.order_by("position")]


def test_it_creates_five_scenario_runbooks_and_the_two_shared_phases() -> None:
    procedures_load()

    assert Runbook.objects.count() == 7
    assert set(Runbook.objects.filter(kind=Runbook.Kind.SCENARIO).values_list("scenario", flat=True)) == set(
        Scenario.values
    )
    assert Runbook.objects.get(kind=Runbook.Kind.INITIAL_RESPONSE).title == "Initial Response"
    assert Runbook.objects.get(kind=Runbook.Kind.POST_EMERGENCY).title == "Post-Emergency Actions"


def test_it_returns_the_runbooks_in_the_order_an_incident_follows_them() -> None:
    loaded = procedures_load()

    assert loaded[0].kind == Runbook.Kind.INITIAL_RESPONSE
    assert [runbook.scenario for runbook in loaded[1:-1]] == list(SCENARIO_STEPS)
    assert loaded[-1].kind == Runbook.Kind.POST_EMERGENCY


@pytest.mark.parametrize(("scenario", "titles"), SCENARIO_STEPS.items())
def test_each_scenario_has_its_steps_in_the_procedures_order(scenario: str, titles: list[str]) -> None:
    procedures_load()
    runbook = Runbook.objects.get(scenario=scenario)

    assert step_titles(runbook) == titles
    assert step_positions(runbook) == list(range(1, len(titles) + 1))


def test_the_shared_phases_have_their_four_steps_in_order() -> None:
    procedures_load()

    assert step_titles(Runbook.objects.get(kind=Runbook.Kind.INITIAL_RESPONSE)) == [
        "Assess the situation",
        "Notify key personnel",
        "Establish a communication channel",
        "Implement immediate mitigation",
    ]
    assert step_titles(Runbook.objects.get(kind=Runbook.Kind.POST_EMERGENCY)) == [
        "Verify system stability",
        "Document the incident",
        "Conduct a post-mortem",
        "Preventive measures",
    ]


def test_step_guidance_keeps_the_procedures_commands_as_code_blocks() -> None:
    procedures_load()
    database_failure = Runbook.objects.get(scenario=Scenario.DATABASE_FAILURE)
    first = database_failure.steps.get(position=1)
    corruption = database_failure.steps.get(title="Check for corruption")

    assert first.guidance.startswith("```bash\n")
    assert "sudo systemctl status postgresql" in first.guidance
    assert "```sql\n" in corruption.guidance
    assert "SELECT pg_database_size('mvono_db');" in corruption.guidance


def test_steps_name_the_remediation_action_they_run() -> None:
    procedures_load()
    database_failure = Runbook.objects.get(scenario=Scenario.DATABASE_FAILURE)
    security_breach = Runbook.objects.get(scenario=Scenario.SECURITY_BREACH)

    assert database_failure.steps.get(title="Restore from backup (if necessary)").action == "restore_database"
    assert database_failure.steps.get(title="Restart database service").action == "restart_service"
    assert database_failure.steps.get(title="Check database logs").action == ""
    assert list(security_breach.steps.values_list("action", flat=True)) == [
        "firewall_lockdown",
        "capture_forensics",
        "reset_credentials",
        "",
    ]


@pytest.mark.parametrize(
    ("scenario", "first_contact"),
    [
        (Scenario.SYSTEM_OUTAGE, "System Administrator"),
        (Scenario.DATA_CORRUPTION, "Database Administrator"),
        (Scenario.SECURITY_BREACH, "System Administrator"),
        (Scenario.DATABASE_FAILURE, "Database Administrator"),
        (Scenario.WEBSITE_DEFACEMENT, "System Administrator"),
    ],
)
def test_each_scenario_names_who_to_call_first(scenario: str, first_contact: str) -> None:
    procedures_load()

    runbook = Runbook.objects.select_related("first_contact_role").get(scenario=scenario)
    assert runbook.first_contact_role is not None
    assert runbook.first_contact_role.name == first_contact


def test_the_shared_phases_have_no_first_contact() -> None:
    procedures_load()

    assert not Runbook.objects.filter(kind__in=["initial_response", "post_emergency"], first_contact_role__isnull=False)


def test_freshly_loaded_runbooks_count_as_reviewed() -> None:
    procedures_load()

    assert not [runbook.title for runbook in Runbook.objects.all() if runbook.needs_review]


def test_it_seeds_the_escalation_path_with_the_five_levels_in_the_procedures_order() -> None:
    procedures_load()

    assert _path() == SEED_ESCALATION_PATH
    assert list(EscalationLevel.objects.order_by("position").values_list("position", flat=True)) == [1, 2, 3, 4, 5]


def test_loading_twice_changes_no_counts() -> None:
    procedures_load()
    first = _counts()

    procedures_load()

    assert _counts() == first == {"runbooks": 7, "steps": 4 + 4 + 4 + 4 + 5 + 4 + 4, "roles": 5, "levels": 5}


def test_loading_again_keeps_an_admins_edit_of_a_runbook(admin_user: User) -> None:
    procedures_load()
    runbook = Runbook.objects.get(scenario=Scenario.DATABASE_FAILURE)
    runbook_save(
        runbook=runbook,
        fields={"title": "Database down (our version)", "summary": "Edited by the admins."},
        steps=[{"title": "Page the on-call DBA", "guidance": "Call them.", "action": ""}],
    )

    procedures_load()

    runbook.refresh_from_db()
    assert runbook.title == "Database down (our version)"
    assert runbook.summary == "Edited by the admins."
    assert step_titles(runbook) == ["Page the on-call DBA"]
    assert Runbook.objects.filter(scenario=Scenario.DATABASE_FAILURE).count() == 1


def test_loading_again_keeps_an_admins_order_of_the_escalation_path() -> None:
    procedures_load()
    technical_lead = EscalationLevel.objects.get(role__name="Technical Lead")
    escalation_level_move(level_id=technical_lead.pk, direction=-1)
    reordered = _path()

    procedures_load()

    assert reordered[1][0] == "Technical Lead"
    assert _path() == reordered


def test_loading_again_recreates_a_runbook_that_was_deleted() -> None:
    procedures_load()
    Runbook.objects.filter(scenario=Scenario.WEBSITE_DEFACEMENT).delete()

    procedures_load()

    assert (
        step_titles(Runbook.objects.get(scenario=Scenario.WEBSITE_DEFACEMENT))
        == SCENARIO_STEPS[Scenario.WEBSITE_DEFACEMENT]
    )


def test_load_procedures_command_loads_them_and_says_how_many() -> None:
    out = StringIO()

    call_command("load_procedures", stdout=out)

    assert "Procedures ready: 7 runbooks." in out.getvalue()
    assert _counts()["runbooks"] == 7
    assert _path() == SEED_ESCALATION_PATH


def test_load_procedures_command_is_idempotent() -> None:
    call_command("load_procedures", stdout=StringIO())
    first = _counts()

    call_command("load_procedures", stdout=StringIO())

    assert _counts() == first


def test_seed_demo_loads_the_procedures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PASSWORD", "a-demo-password-for-tests")

    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())

    assert _counts() == {"runbooks": 7, "steps": 29, "roles": 5, "levels": 5}
    assert (
        step_titles(Runbook.objects.get(scenario=Scenario.DATABASE_FAILURE))
        == SCENARIO_STEPS[Scenario.DATABASE_FAILURE]
    )
    assert _path() == SEED_ESCALATION_PATH
