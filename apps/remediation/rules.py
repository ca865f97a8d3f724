"""Who may request, approve and override which action: the approval rules (per action, set by
admins; defaults from the catalog) and the evidence-first rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.accounts.models import User
from apps.accounts.permissions import role_of as _role
from apps.incidents.models import Incident
from apps.remediation import catalog
from apps.remediation.models import ActionRun, ApprovalRule, Artifact
from apps.runbooks.models import Scenario

# On these incidents, these actions wait for evidence: they would change or destroy what the
# forensic bundle must capture first (seed: "Preserve Evidence" before anything else).
EVIDENCE_FIRST_SCENARIOS = {Scenario.SECURITY_BREACH, Scenario.WEBSITE_DEFACEMENT}
EVIDENCE_FIRST_ACTIONS = {"reset_credentials", "restart_service", "restore_web_content", "firewall_lockdown"}


@dataclass(frozen=True)
class Rule:
    needs_approval: bool
    managers_may_approve: bool = True
    admins_may_approve: bool = True
    allow_break_glass: bool = True


def rule_for(action_key: str) -> Rule:
    row = ApprovalRule.objects.filter(action=action_key).first()
    if row is not None:
        return Rule(row.needs_approval, row.managers_may_approve, row.admins_may_approve, row.allow_break_glass)
    return Rule(needs_approval=catalog.get(action_key).dangerous)


def may_request(user: Any, action_key: str) -> bool:
    return bool(catalog.get(action_key).permission(user))


def may_approve(user: Any, run: ActionRun) -> bool:
    """A second person: never the requester; a manager or an admin as the action's rule allows."""
    if run.requested_by_id is not None and getattr(user, "pk", None) == run.requested_by_id:
        return False
    role = _role(user)
    rule = rule_for(run.action)
    return (role == User.Role.MANAGER and rule.managers_may_approve) or (
        role == User.Role.ADMIN and rule.admins_may_approve
    )


def may_cancel(user: Any, run: ActionRun) -> bool:
    """The requester, anyone who may approve it, and admins."""
    if _role(user) is None:
        return False
    return getattr(user, "pk", None) == run.requested_by_id or may_approve(user, run) or _role(user) == User.Role.ADMIN


def may_keep(user: Any, run: ActionRun) -> bool:
    """Keep a timed change (stop its revert timer): whoever may request that action."""
    try:
        return bool(catalog.get(run.action).permission(user))
    except KeyError:
        return False


def evidence_needed(incident: Incident | None, action_key: str) -> bool:
    """True while this incident's evidence is not yet captured and this action would disturb it."""
    if incident is None or incident.scenario not in EVIDENCE_FIRST_SCENARIOS:
        return False
    if action_key not in EVIDENCE_FIRST_ACTIONS:
        return False
    return not Artifact.objects.filter(incident=incident, kind=Artifact.Kind.EVIDENCE).exists()
