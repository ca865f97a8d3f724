"""Reactions to incident events (connected in `PagingConfig.ready()`)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from apps.accounts.models import User
from apps.paging.models import DeliveryAttempt
from apps.paging.services import escalation, responses
from apps.paging.services.errors import PagingError

logger = logging.getLogger(__name__)


def start_paging_on_declare(sender: Any, incident_id: int, **kwargs: Any) -> None:
    """A new incident pages its first contact. A failure here must not fail the declaration,
    which has committed: the auditor starts paging for an incident that has none."""
    if not settings.PAGING_ON_DECLARE:
        return
    try:
        escalation.escalation_start(incident_id=incident_id)
    except Exception:
        logger.exception("paging did not start for incident %s; the auditor will retry", incident_id)


def acknowledge_from_log(sender: Any, incident_id: int, entry_id: int, user_id: int, **kwargs: Any) -> None:
    """A responder marked an automatic page as acknowledged in the notification log: that is an
    acknowledgement of the escalation, on behalf of the contact paged."""
    attempt = DeliveryAttempt.objects.select_related("page__contact").filter(notification_id=entry_id).first()
    user = User.objects.filter(pk=user_id).first()
    if attempt is None or user is None:
        return
    try:
        responses.escalation_acknowledge(
            incident_id=incident_id,
            user=user,
            contact=attempt.page.contact,
            page=attempt.page,
            via="recorded in the notification log",
        )
    except PagingError:
        return


def stop_paging_when_over(sender: Any, incident_id: int, to_status: str, **kwargs: Any) -> None:
    """Resolving or closing an incident stops its paging now, not at the next step."""
    responses.escalation_stop_if_over(incident_id=incident_id)
