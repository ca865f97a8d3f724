"""Posting a stakeholder update: the one place where updates, the public incident, the
components' states, the subscribers' mail and the timeline event change together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.comms import publiccache
from apps.comms.models import (
    IMPACT_OF_STATE,
    IMPACT_RANK,
    Component,
    ComponentOutage,
    ComponentState,
    Impact,
    PublicIncident,
    Update,
    UpdateComponent,
    worst_state,
)
from apps.comms.selectors import incident_component_states
from apps.comms.services import mailing
from apps.incidents.events import event_record
from apps.incidents.models import EventKind, Incident, Severity

# When an incident names no component at all, its public impact follows its severity.
IMPACT_OF_SEVERITY = {
    Severity.SEV1: Impact.CRITICAL,
    Severity.SEV2: Impact.MAJOR,
    Severity.SEV3: Impact.MINOR,
    Severity.SEV4: Impact.NONE,
}


class UpdateRuleError(Exception):
    """The update breaks a rule (empty body, a correction of another incident's update…)."""


@dataclass(frozen=True)
class Draft:
    """An update as the coordinator wrote it. `component_states` names the components the update
    is about (by id) and the state it announces for each."""

    audience: str
    status: str
    body: str
    title: str = ""
    component_states: dict[int, str] = field(default_factory=dict)
    corrects_id: int | None = None


def _check(draft: Draft) -> None:
    if draft.audience not in Update.Audience.values:
        raise UpdateRuleError("Choose who the update is for: internal or public.")
    if draft.status not in Update.Status.values:
        raise UpdateRuleError("Choose the status the update announces.")
    if not draft.body.strip():
        raise UpdateRuleError("An update needs a body.")
    if draft.audience == Update.Audience.PUBLIC and not draft.title.strip():
        raise UpdateRuleError("A public update needs the incident's public name.")
    if any(state not in ComponentState.values for state in draft.component_states.values()):
        raise UpdateRuleError("A component state was not understood.")
    if draft.status == Update.Status.RESOLVED and any(
        state != ComponentState.OPERATIONAL for state in draft.component_states.values()
    ):
        raise UpdateRuleError("A resolved update returns its components to operational.")


def update_post(*, incident_id: int, author: User, draft: Draft) -> Update:
    """Post an update. A public one also moves the incident's public face (name, status, impact,
    components), mails the subscribers and refreshes the status page; both kinds go on the
    timeline as an `update_posted` event. Nothing is ever edited: a correction is a new update
    naming the one it corrects."""
    _check(draft)
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        corrects = _corrected(incident, draft)
        now = timezone.now()
        public = draft.audience == Update.Audience.PUBLIC
        public_incident = _public_incident(incident, draft, now) if public else None
        current = incident_component_states(incident)
        update = Update.objects.create(
            incident=incident,
            public_incident=public_incident,
            audience=draft.audience,
            status=draft.status,
            title=draft.title.strip() if public else "",
            body=draft.body.strip(),
            author=author,
            created_at=now,
            corrects=corrects,
        )
        known = set(Component.objects.filter(pk__in=draft.component_states).values_list("pk", flat=True))
        UpdateComponent.objects.bulk_create(
            UpdateComponent(
                update=update,
                component_id=component_id,
                old_state=current.get(component_id, ComponentState.OPERATIONAL),
                new_state=state,
            )
            for component_id, state in draft.component_states.items()
            if component_id in known
        )
        if public_incident is not None:
            named = {c: s for c, s in draft.component_states.items() if c in known}
            _move_components(public_incident, named, now, resolved=draft.status == Update.Status.RESOLVED)
            _refresh_public_incident(public_incident, incident, update, now)
            mailing.notice_for_update(update)
            publiccache.invalidate()
        event_record(
            incident_id=incident.pk,
            kind=EventKind.UPDATE_POSTED,
            actor=author,
            update=update,
            data={
                "audience": update.audience,
                "status": update.status,
                **({"title": update.title} if public else {}),
                "correction": corrects is not None,
            },
        )
    return update


def _corrected(incident: Incident, draft: Draft) -> Update | None:
    if draft.corrects_id is None:
        return None
    corrected: Update | None = Update.objects.filter(pk=draft.corrects_id, incident=incident).first()
    if corrected is None:
        raise UpdateRuleError("The update being corrected is not one of this incident's.")
    if corrected.is_public and draft.audience != Update.Audience.PUBLIC:
        raise UpdateRuleError("A public update is corrected in public: post the correction as public.")
    return corrected


def _public_incident(incident: Incident, draft: Draft, now: datetime) -> PublicIncident:
    public_incident = PublicIncident.objects.select_for_update().filter(incident=incident).first()
    if public_incident is None:
        public_incident = PublicIncident.objects.create(
            incident=incident, name=draft.title.strip(), status=draft.status, created_at=now, updated_at=now
        )
    return public_incident


def _move_components(public_incident: PublicIncident, states: dict[int, str], now: datetime, *, resolved: bool) -> None:
    """Close the spans of components whose state changed and open the new ones; a resolved
    incident holds no component any more."""
    open_spans = {
        span.component_id: span
        for span in ComponentOutage.objects.select_for_update().filter(
            public_incident=public_incident, ended_at__isnull=True
        )
    }
    for component_id, state in states.items():
        span = open_spans.get(component_id)
        if (span.state if span else ComponentState.OPERATIONAL) == state:
            continue
        if span is not None:
            span.ended_at = now
            span.save(update_fields=["ended_at"])
            del open_spans[component_id]
        if state != ComponentState.OPERATIONAL:
            open_spans[component_id] = ComponentOutage.objects.create(
                component_id=component_id, public_incident=public_incident, state=state, started_at=now
            )
    if resolved:
        ComponentOutage.objects.filter(pk__in=[s.pk for s in open_spans.values()]).update(ended_at=now)


def _refresh_public_incident(
    public_incident: PublicIncident, incident: Incident, update: Update, now: datetime
) -> None:
    """The public incident follows its latest public update; its impact is the worst it reached."""
    public_incident.name = update.title
    public_incident.status = update.status
    public_incident.updated_at = now
    if update.status == Update.Status.MONITORING and public_incident.monitoring_at is None:
        public_incident.monitoring_at = now
    public_incident.resolved_at = now if update.status == Update.Status.RESOLVED else None
    named = list(
        ComponentOutage.objects.filter(public_incident=public_incident).values_list("state", flat=True).distinct()
    )
    ever_named = named or UpdateComponent.objects.filter(update__public_incident=public_incident).exists()
    reached = IMPACT_OF_STATE[ComponentState(worst_state(named))] if ever_named else None
    candidates = [Impact(public_incident.impact), reached or IMPACT_OF_SEVERITY[Severity(incident.severity)]]
    public_incident.impact = max(candidates, key=IMPACT_RANK.__getitem__)
    public_incident.save(update_fields=["name", "status", "updated_at", "monitoring_at", "resolved_at", "impact"])
