"""The Celery app. Workers run on the hosts they act on, each consuming `host.<name>`."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "incidentcenter.settings")

app = Celery("incidentcenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _connections_fresh_enough(task: Task | None = None, **kwargs: Any) -> None:  # type: ignore[type-arg]
    """Before each task on a worker, drop a database connection that no longer answers (after a
    database restart): CELERY_DB_REUSE_MAX keeps connections across tasks and recycles them every
    so many. Never for an eager task: that runs inside the caller's transaction."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.in_atomic_block and not connection.is_usable():
            connection.close()


def _install_worker_heartbeat() -> None:
    from apps.core.heartbeat import HeartbeatStep

    app.steps["worker"].add(HeartbeatStep)


_install_worker_heartbeat()
