"""The action catalog is defined once: runbook steps (and the checklist copied from them) name
their action from it, offer its actions in the runbook editor and refuse any other key."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from apps.remediation import catalog
from apps.runbooks import models as runbook_models
from apps.runbooks import step_actions
from apps.runbooks.forms import StepForm
from apps.runbooks.models import Runbook, RunbookStep
from apps.runbooks.procedures import INITIAL_RESPONSE, POST_EMERGENCY, SCENARIOS


def test_runbook_steps_offer_exactly_the_catalog():
    assert step_actions.choices() == catalog.choices()
    assert {key for key, _ in step_actions.choices()} == {action.key for action in catalog.all_actions()}


def test_every_action_the_procedures_name_is_in_the_catalog():
    named = {
        step.action for procedure in [INITIAL_RESPONSE, POST_EMERGENCY, *SCENARIOS.values()] for step in procedure.steps
    }
    named.discard("")
    assert named
    for key in named:
        catalog.get(key)


@pytest.mark.django_db
def test_a_step_refuses_an_action_outside_the_catalog(procedures: object):
    runbook = Runbook.objects.filter(kind=Runbook.Kind.SCENARIO).first()
    step = RunbookStep(runbook=runbook, position=99, title="Wipe", action="rm_rf")
    with pytest.raises(ValidationError) as refused:
        step.full_clean()
    assert "action" in refused.value.message_dict
    step.action = "maintenance_mode"
    step.full_clean()
    assert step.get_action_display() == catalog.get("maintenance_mode").title


def test_the_runbook_editor_lists_the_catalog_and_refuses_other_keys():
    form = StepForm(data={"position": 1, "title": "Wipe", "guidance": "", "action": "rm_rf"})
    assert not form.is_valid()
    assert "action" in form.errors
    offered = [value for value, _ in form.fields["action"].choices if value]
    assert offered == [key for key, _ in catalog.choices()]
    assert StepForm(data={"position": 1, "title": "Back up", "guidance": "", "action": "backup_database"}).is_valid()


def test_runbooks_do_not_import_remediation():
    for module in (runbook_models, step_actions):
        tree = ast.parse(Path(str(module.__file__)).read_text())
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)] + [
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        ]
        assert not [name for name in imported if name.startswith("apps.remediation")]
