"""Scheduled maintenance windows: announced in advance on the status page, its JSON and feed and
to subscribers; their components show "under maintenance" while they run, with no further action.

The remediation app's maintenance mode (a component showing "under maintenance" while the action
is on for its host) is not connected yet: that action has not landed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.comms import mailing, publiccache
from apps.comms.models import Component, MaintenanceWindow


class MaintenanceRuleError(Exception):
    """The window breaks a rule (ends before it starts, already over, already cancelled…)."""


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
        if window.cancelled_at is not None:
            raise MaintenanceRuleError("That window was already cancelled.")
        now = timezone.now()
        if window.ends_at <= now:
            raise MaintenanceRuleError("That window is over; it stays in the history.")
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
        if window.cancelled_at is not None or not window.starts_at <= now < window.ends_at:
            raise MaintenanceRuleError("Only a window in progress can be finished early.")
        window.ends_at = max(now, window.starts_at + timedelta(seconds=1))
        window.updated_at = now
        window.save(update_fields=["ends_at", "updated_at"])
        publiccache.invalidate()
    return window
