"""Fixtures for the remediation tests: this machine as the host the actions run on, folders of
their own for every setting that names one, and helpers that request a run the way the web side
does and execute it the way the host's worker does (the real executor, in this process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from apps.accounts.models import User
from apps.health.models import Host
from apps.incidents.models import ChecklistItem, Incident
from apps.remediation import catalog, executor, services
from apps.remediation.models import ActionRun


@pytest.fixture(autouse=True)
def action_folders(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Every folder an action writes to, fresh for each test."""
    folders = {
        "BACKUP_DIR": tmp_path / "backups",
        "MAINTENANCE_DIR": tmp_path / "maintenance",
        "EVIDENCE_DIR": tmp_path / "evidence",
        "WEB_ROOT": tmp_path / "www",
    }
    for folder in folders.values():
        folder.mkdir()
    with override_settings(**folders, TARGET_SECRET_FILE=tmp_path / "secrets" / "target-db-password"):
        yield folders


@pytest.fixture(autouse=True)
def _heartbeat_stores_no_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """In these tests the run row lives in the test's open transaction, which the heartbeat
    thread's own connection cannot see: its flush of the log buffer would wait on that
    transaction while this thread waits on the flush lock (a deadlock). The executor's own
    flushes, on this thread, store the lines; a real worker's heartbeat flushes as before."""
    monkeypatch.setattr(executor, "FLUSH_SECONDS", 3600)


@pytest.fixture
def local_host(db: None) -> Host:
    """The host this test process's worker serves (INCIDENTCENTER_HOST)."""
    return Host.objects.create(
        name=settings.INCIDENTCENTER_HOST, description="This machine", services="mvono-app, nginx"
    )


def request_run(
    user: User,
    action: str,
    params: dict[str, Any],
    *,
    host: Host,
    incident: Incident | None = None,
    item: ChecklistItem | None = None,
    **options: Any,
) -> ActionRun:
    """Validate `params` with the action's form and request the run, as the web side does."""
    form = catalog.get(action).Params(data=params, host=host)
    assert form.is_valid(), form.errors
    return services.run_request(
        user=user,
        request=services.RunRequest(
            action=action, host=host, params=form.stored(), incident=incident, checklist_item=item, **options
        ),
    )


def execute(run: ActionRun) -> ActionRun:
    """Run it as the host's worker would, and read back how it ended."""
    executor.execute(run.pk)
    run.refresh_from_db()
    return run


def log_text(run: ActionRun) -> str:
    return "\n".join(run.log_lines.values_list("text", flat=True))
