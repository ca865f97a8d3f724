"""Helpers for the runbook tests: the edit form's POST data, built the way the page submits it."""

from __future__ import annotations

from typing import Any

from apps.runbooks.models import Runbook

StepData = dict[str, Any]


def runbook_post_data(runbook: Runbook, steps: list[StepData], **fields: Any) -> dict[str, str]:
    """The edit page's form as submitted: the runbook's fields, then one step form per entry of
    `steps`. An entry with an `id` edits that existing step; one without is a new step."""
    initial = [step for step in steps if step.get("id")]
    data: dict[str, str] = {
        "title": runbook.title,
        "summary": runbook.summary,
        "first_contact_role": str(runbook.first_contact_role_id or ""),
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(len(initial)),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    data.update({name: str(value) for name, value in fields.items()})
    for index, step in enumerate(steps):
        prefix = f"steps-{index}-"
        data[prefix + "id"] = str(step.get("id", ""))
        data[prefix + "runbook"] = str(runbook.pk)
        data[prefix + "position"] = str(step.get("position", ""))
        data[prefix + "title"] = step.get("title", "")
        data[prefix + "guidance"] = step.get("guidance", "")
        data[prefix + "action"] = step.get("action", "")
        if step.get("DELETE"):
            data[prefix + "DELETE"] = "on"
    return data


def current_steps(runbook: Runbook) -> list[StepData]:
    """The runbook's steps as the edit page shows them, ready to be changed and submitted."""
    return [
        {
            "id": step.pk,
            "position": step.position,
            "title": step.title,
            "guidance": step.guidance,
            "action": step.action,
        }
        for step in runbook.steps.order_by("position")
    ]


def step_titles(runbook: Runbook) -> list[str]:
    return list(runbook.steps.order_by("position").values_list("title", flat=True))


def step_positions(runbook: Runbook) -> list[int]:
    return list(runbook.steps.order_by("position").values_list("position", flat=True))
