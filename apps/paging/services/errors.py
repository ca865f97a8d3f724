"""Why a change of paging is not possible now, in words for the user."""

from __future__ import annotations

from django.utils import timezone

from apps.paging.models import Escalation


class PagingError(Exception):
    """The change is not possible now; the message says why, for the user."""


class PagingConflict(PagingError):
    """The escalation moved on while the user was looking."""


class AlreadyAcknowledged(PagingError):
    def __init__(self, escalation: Escalation) -> None:
        when = (
            timezone.localtime(escalation.acknowledged_at).strftime("%Y-%m-%d %H:%M %Z")
            if escalation.acknowledged_at
            else ""
        )
        super().__init__(f"Already acknowledged by {escalation.acknowledged_name} at {when}.")
        self.escalation = escalation
