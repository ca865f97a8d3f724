"""Scheduled maintenance windows: announced in advance on the status page, its JSON and feed and
to subscribers; their components show "under maintenance" while they run, with no further action.

The remediation app's `maintenance_mode` action takes the protected site offline on its host; it
does not change components here (a public update or a window says so to customers).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.comms import publiccache
from apps.comms.models import Component, MaintenanceWindow
from apps.comms.services import mailing


class MaintenanceRuleError(Exception):
    """The window breaks a rule (ends before it starts, already over, already cancelled…)."""


Status = MaintenanceWindow.Status


def _check(window: MaintenanceWindow, now: datetime, target: str) -> None:
    """The transition table decides; the refusal says why, in the window's terms."""
    current = window.status_at(now)
    if MaintenanceWindow.TRANSITIONS.can(current, target):
        return
    if target == Status.COMPLETED:
        raise MaintenanceRuleError("Only a window in progress can be finished early.")
    if current == Status.CANCELLED:
        raise MaintenanceRuleError("That window was already cancelled.")
    raise MaintenanceRuleError("That window is over; it stays in the history.")


def maintenance_announce(
    *,
    user: User,
    title: str,
    body: str,
    starts_at: datetime,
    ends_at: datetime,
    components: Sequence[Component],
    notify: bool = True,
) -> MaintenanceWindow:
    """Announce a window: it appears on the status page at once and subscribers are mailed."""
    if ends_at <= starts_at:
        raise MaintenanceRuleError("The window must end after it starts.")
    if ends_at <= timezone.now():
        raise MaintenanceRuleError("That window is already over: announce windows that are still to come.")
    if not components:
        raise MaintenanceRuleError("Choose the components the work affects.")
    now = timezone.now()
    with transaction.atomic():
        window = MaintenanceWindow.objects.create(
            title=title.strip(),
            body=body.strip(),
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=user,
            created_at=now,
            updated_at=now,
        )
        window.components.set(components)
        if notify:
            mailing.notice_for_maintenance(window)
        publiccache.invalidate()
    return window


def maintenance_cancel(*, window_id: int, user: User) -> MaintenanceWindow:
    """Call off a window that has not finished; it disappears from the page."""
    with transaction.atomic():
        window = MaintenanceWindow.objects.select_for_update().get(pk=window_id)
        now = timezone.now()
        _check(window, now, Status.CANCELLED)
        window.cancelled_at = now
        window.updated_at = now
        window.save(update_fields=["cancelled_at", "updated_at"])
        publiccache.invalidate()
    return window


def maintenance_finish(*, window_id: int, user: User) -> MaintenanceWindow:
    """The work ended early: the window is completed now and its components are back."""
    with transaction.atomic():
        window = MaintenanceWindow.objects.select_for_update().get(pk=window_id)
        now = timezone.now()
        _check(window, now, Status.COMPLETED)
        window.ends_at = max(now, window.starts_at + timedelta(seconds=1))
        window.updated_at = now
        window.save(update_fields=["ends_at", "updated_at"])
        publiccache.invalidate()
    return window
