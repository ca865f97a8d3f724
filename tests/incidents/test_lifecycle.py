"""The incident status lifecycle and the checklist's step states, for every pair: the transition
tables on the models, which the services guard with and the pages ask which controls to show."""

from __future__ import annotations

import itertools

import pytest

from apps.core.templatetags.transitions import can_become
from apps.incidents.lifecycle import allowed_transitions, transition_error
from apps.incidents.models import ChecklistItem, Incident

STATUSES = ["investigating", "identified", "mitigating", "monitoring", "resolved", "closed"]
ACTIVE = STATUSES[:4]

# Written out rather than derived, so a change of the rules has to change this table too.
ALLOWED = {
    "investigating": ["identified", "mitigating", "monitoring", "resolved"],
    "identified": ["investigating", "mitigating", "monitoring", "resolved"],
    "mitigating": ["investigating", "identified", "monitoring", "resolved"],
    "monitoring": ["investigating", "identified", "mitigating", "resolved"],
    "resolved": ["closed", "investigating"],
    "closed": [],
}


@pytest.mark.parametrize(("current", "expected"), ALLOWED.items())
def test_allowed_transitions_lists_the_moves_in_order(current: str, expected: list[str]) -> None:
    assert allowed_transitions(current) == expected


@pytest.mark.parametrize(
    ("current", "target"), [(c, t) for c, t in itertools.product(STATUSES, STATUSES) if t in ALLOWED[c]]
)
def test_transition_error_is_none_for_an_allowed_move(current: str, target: str) -> None:
    assert transition_error(current, target) is None


@pytest.mark.parametrize(("current", "target"), list(itertools.pairwise(STATUSES)))
def test_the_whole_lifecycle_is_walkable_one_step_at_a_time(current: str, target: str) -> None:
    assert transition_error(current, target) is None


@pytest.mark.parametrize(
    ("current", "target"),
    [(c, t) for i, c in enumerate(STATUSES[:3]) for t in STATUSES[i + 2 : 5]],
)
def test_an_active_incident_may_skip_forward(current: str, target: str) -> None:
    assert transition_error(current, target) is None


@pytest.mark.parametrize(("current", "target"), [(c, t) for i, c in enumerate(ACTIVE) for t in ACTIVE[:i]])
def test_an_active_incident_may_fall_back_to_an_earlier_active_status(current: str, target: str) -> None:
    assert transition_error(current, target) is None


def test_a_resolved_incident_is_closed_or_reopened_to_investigating() -> None:
    assert transition_error("resolved", "closed") is None
    assert transition_error("resolved", "investigating") is None


@pytest.mark.parametrize("target", ["identified", "mitigating", "monitoring"])
def test_a_resolved_incident_cannot_reopen_past_investigating(target: str) -> None:
    assert transition_error("resolved", target) == f"An incident cannot move from resolved to {target}."


@pytest.mark.parametrize("target", [s for s in STATUSES if s != "closed"])
def test_closed_is_final(target: str) -> None:
    assert allowed_transitions("closed") == []
    assert transition_error("closed", target) == "A closed incident cannot change status."


@pytest.mark.parametrize("current", ACTIVE)
def test_an_active_incident_must_be_resolved_before_it_is_closed(current: str) -> None:
    assert transition_error(current, "closed") == "Resolve the incident before closing it."


@pytest.mark.parametrize("status", STATUSES)
def test_moving_to_the_same_status_is_an_error(status: str) -> None:
    assert transition_error(status, status) == f"The incident is already {status}."


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_every_pair_is_either_allowed_or_explained(current: str, target: str) -> None:
    error = transition_error(current, target)
    if target in ALLOWED[current]:
        assert error is None
    else:
        assert isinstance(error, str)
        assert error


@pytest.mark.parametrize("current", STATUSES)
def test_an_unknown_target_status_is_refused(current: str) -> None:
    assert transition_error(current, "on_fire") == "“on_fire” is not an incident status."


def test_an_unknown_current_status_allows_nothing() -> None:
    assert allowed_transitions("on_fire") == []
    assert transition_error("on_fire", "investigating") == "“on_fire” is not an incident status."


@pytest.mark.parametrize("current", STATUSES)
def test_the_lifecycle_is_the_incident_transition_table(current: str) -> None:
    assert Incident.TRANSITIONS.allowed(current) == frozenset(ALLOWED[current])
    assert Incident.TRANSITIONS.is_final(current) == (current == "closed")


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_templates_ask_the_same_table(current: str, target: str) -> None:
    assert can_become(Incident(status=current), target) == (target in ALLOWED[current])


STEP_ALLOWED = {"pending": {"done", "skipped"}, "done": {"pending"}, "skipped": {"pending"}}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STEP_ALLOWED, STEP_ALLOWED)))
def test_a_step_is_finished_from_pending_and_reopened_to_pending(current: str, target: str) -> None:
    assert ChecklistItem.TRANSITIONS.can(current, target) == (target in STEP_ALLOWED[current])
    assert can_become(ChecklistItem(state=current), target) == (target in STEP_ALLOWED[current])
