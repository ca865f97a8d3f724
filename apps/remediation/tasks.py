"""Celery tasks of remediation: thin. A message carries a run's id only; the executor loads the
row and claims it, so the broker is never the source of truth."""

from __future__ import annotations

from celery import shared_task

from apps.remediation import executor, services


@shared_task(name="remediation.execute_run", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def execute_run(run_id: int) -> str:
    if not isinstance(run_id, int):
        return "refused"
    return executor.execute(run_id)


@shared_task(name="remediation.sweep_runs", ignore_result=True)
def sweep_runs() -> dict[str, list[int]]:
    report = services.runs_sweep()
    return {"resent": report.resent, "lost": report.lost, "reverted": report.reverted}
