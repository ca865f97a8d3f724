"""Communications tasks: thin, each calls a service with the id it was given."""

from __future__ import annotations

from celery import shared_task

from apps.comms.services import cadence, mailing, subscriptions


@shared_task(name="comms.sweep_communications", ignore_result=True)
def sweep_communications() -> None:
    """Every COMMS_TICK_SECONDS: cadence reminders, lost or due mail, unconfirmed addresses."""
    cadence.cadence_check()
    mailing.deliveries_sweep()
    subscriptions.subscriptions_prune()


@shared_task(name="comms.send_notice", ignore_result=True)
def send_notice(notice_id: int) -> None:
    mailing.notice_send_batch(notice_id)


@shared_task(name="comms.send_confirmation", ignore_result=True)
def send_confirmation(subscriber_id: int) -> None:
    subscriptions.confirmation_send(subscriber_id)


@shared_task(name="comms.send_reminder", ignore_result=True)
def send_reminder(reminder_id: int) -> None:
    cadence.reminder_send(reminder_id)
