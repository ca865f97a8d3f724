"""Update templates: a draft per announced status, filled from the incident, for the coordinator
to edit before posting.

Public drafts use only what is fit for customers: the scenario in plain words, the impact the
responders wrote for users, the public components, and the runbook steps the timeline records as
done (standard step titles, from its "step done" events). Internal drafts add the timeline's last
events in their usual words, the roles and the free-text affected components. The coordinator
reviews every word before posting: the form's preview shows exactly what will be published, and a
public update naming a host or a responder is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.comms.forms import UpdateForm, component_field_name
from apps.comms.models import Component, ComponentState, PublicIncident, Update
from apps.comms.selectors import cadences, incident_component_states
from apps.incidents.events import render, with_related
from apps.incidents.models import EventKind, Incident, Severity, TimelineEvent
from apps.runbooks.models import Scenario

Status = Update.Status
Audience = Update.Audience
State = ComponentState

# What customers read, per scenario: a default public name and what is wrong, in plain words.
PUBLIC_WORDING: dict[str, tuple[str, str]] = {
    Scenario.SYSTEM_OUTAGE: ("Service unavailable", "the service being unavailable"),
    Scenario.DATA_CORRUPTION: ("Problem with data in the application", "a problem with data in the application"),
    Scenario.SECURITY_BREACH: ("Service disruption", "an issue affecting the service"),
    Scenario.DATABASE_FAILURE: ("Slow or failing requests", "slow or failing requests"),
    Scenario.WEBSITE_DEFACEMENT: ("Website showing unexpected content", "our website showing unexpected content"),
}

# The state a component named by the incident starts in, by severity.
STATE_OF_SEVERITY = {
    Severity.SEV1: State.MAJOR_OUTAGE,
    Severity.SEV2: State.PARTIAL_OUTAGE,
    Severity.SEV3: State.DEGRADED_PERFORMANCE,
    Severity.SEV4: State.DEGRADED_PERFORMANCE,
}

# What an incident's own status suggests announcing.
ANNOUNCED_STATUS = {
    Incident.Status.INVESTIGATING: Status.INVESTIGATING,
    Incident.Status.IDENTIFIED: Status.IDENTIFIED,
    Incident.Status.MITIGATING: Status.IDENTIFIED,
    Incident.Status.MONITORING: Status.MONITORING,
    Incident.Status.RESOLVED: Status.RESOLVED,
    Incident.Status.CLOSED: Status.RESOLVED,
}


@dataclass(frozen=True)
class Prefill:
    title: str
    body: str
    component_states: dict[int, str] = field(default_factory=dict)


def prefill(incident: Incident, *, status: str, audience: str, components: list[Component]) -> Prefill:
    public_incident = PublicIncident.objects.filter(incident=incident).first()
    title = public_incident.name if public_incident else PUBLIC_WORDING[Scenario(incident.scenario)][0]
    states = _states(incident, status, components)
    if audience == Audience.PUBLIC:
        body = _public_body(incident, status, [c for c in components if c.pk in states])
    else:
        body = _internal_body(incident, status, states, components)
    return Prefill(title=title, body=body, component_states=states)


def _states(incident: Incident, status: str, components: list[Component]) -> dict[int, str]:
    """The incident's components as last published; before that, those whose names the incident's
    "affected components" mention, in the state its severity suggests. A resolved draft returns
    them all to operational."""
    current = incident_component_states(incident)
    if not current:
        text = incident.affected_components.lower()
        start = STATE_OF_SEVERITY[Severity(incident.severity)]
        current = {c.pk: start for c in components if re.search(rf"\b{re.escape(c.name.lower())}\b", text)}
    if status == Status.RESOLVED:
        return dict.fromkeys(current, State.OPERATIONAL)
    return current


def _done_steps(incident: Incident) -> list[str]:
    """The runbook steps the timeline records as done, oldest first."""
    done = (
        TimelineEvent.objects.filter(incident=incident, kind=EventKind.STEP_DONE)
        .order_by("at", "pk")
        .values_list("data", flat=True)
    )
    return list(dict.fromkeys(str(data["title"]) for data in done if data.get("title")))


def _next_update_minutes(incident: Incident) -> int:
    return cadences([incident])[incident.pk].minutes


def _names(components: list[Component]) -> str:
    names = [c.name for c in components]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _public_body(incident: Incident, status: str, affected: list[Component]) -> str:
    what = PUBLIC_WORDING[Scenario(incident.scenario)][1]
    where = f" affecting {_names(affected)}" if affected else ""
    impact = incident.impact.strip()
    done = _done_steps(incident)
    minutes = _next_update_minutes(incident)
    lines: list[str] = []
    if status == Status.INVESTIGATING:
        lines.append(f"We are investigating {what}{where}.")
        if impact:
            lines += ["", impact]
    elif status == Status.IDENTIFIED:
        lines.append(f"We have identified the cause of {what}{where} and are working on a fix.")
    elif status == Status.MONITORING:
        lines.append(f"A fix for {what}{where} is in place and we are monitoring the results.")
    else:
        back = (
            f"{_names(affected)} {'is' if len(affected) == 1 else 'are'} working normally again. " if affected else ""
        )
        lines.append(f"This incident has been resolved. {back}Thank you for your patience.")
    if done and status != Status.RESOLVED:
        lines += ["", "What we have done so far:", *[f"- {step}" for step in done]]
    if status != Status.RESOLVED:
        lines += ["", f"We will post another update within {minutes} minutes."]
    return "\n".join(lines)


def _internal_body(incident: Incident, status: str, states: dict[int, str], components: list[Component]) -> str:
    now = timezone.localtime()
    minutes = _next_update_minutes(incident)
    lines = [
        f"**{Status(status).label}** · {incident.get_severity_display()} {incident.get_scenario_display()} · "
        f"incident status {incident.get_status_display().lower()}",
        "",
        f"- Incident commander: {incident.commander.display_name if incident.commander else 'nobody'}",
        f"- Communication coordinator: {incident.coordinator.display_name if incident.coordinator else 'nobody'}",
    ]
    if incident.affected_components.strip():
        lines.append(f"- Affected components: {incident.affected_components.strip()}")
    named = [f"{c.name} ({State(states[c.pk]).label.lower()})" for c in components if c.pk in states]
    if named:
        lines.append(f"- Status page components: {', '.join(named)}")
    if incident.impact.strip():
        lines += ["", f"**Impact:** {incident.impact.strip()}"]
    events = list(
        with_related(TimelineEvent.objects.filter(incident=incident).exclude(kind=EventKind.DECLARED)).order_by(
            "-at", "-pk"
        )[:10]
    )
    if events:
        lines += ["", "**Done so far (timeline):**"]
        lines += [f"- {timezone.localtime(e.at):%H:%M} {render(e)}" for e in reversed(events)]
    if status != Status.RESOLVED:
        lines += ["", f"Next update by {now + timedelta(minutes=minutes):%H:%M %Z}."]
    return "\n".join(lines)


def compose_form(
    incident: Incident, *, status: str | None = None, audience: str | None = None, data: Any = None
) -> UpdateForm:
    """The update form: bound to what was posted, or filled from the template for this status
    and audience (by default, what the incident's own status suggests, internal)."""
    components = list(Component.objects.all())
    earlier = list(Update.objects.filter(incident=incident).order_by("-created_at", "-pk")[:30])
    if data is not None:
        return UpdateForm(data, incident=incident, components=components, earlier=earlier)
    status = status if status in Status.values else ANNOUNCED_STATUS[Incident.Status(incident.status)]
    audience = audience if audience in Audience.values else Audience.INTERNAL
    filled = prefill(incident, status=status, audience=audience, components=components)
    initial: dict[str, Any] = {"audience": audience, "status": status, "title": filled.title, "body": filled.body}
    for component in components:
        if component.pk in filled.component_states:
            initial[component_field_name(component)] = filled.component_states[component.pk]
    return UpdateForm(initial=initial, incident=incident, components=components, earlier=earlier)
