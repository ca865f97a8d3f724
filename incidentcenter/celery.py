"""The Celery app. Workers run on the hosts they act on, each consuming `host.<name>`."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "incidentcenter.settings")

app = Celery("incidentcenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _install_worker_heartbeat() -> None:
    from apps.core.heartbeat import HeartbeatStep

    app.steps["worker"].add(HeartbeatStep)


_install_worker_heartbeat()
