"""The newest backup in BACKUP_DIR: its age and size (stale after a configured age)."""

from __future__ import annotations

import time

from django.conf import settings

from apps.health.models import Host, Probe, State
from apps.health.probes import Reading
from apps.health.thresholds import grade


def probe(host: Host) -> Reading:
    folder = settings.BACKUP_DIR
    if not folder.is_dir():
        return Reading(Probe.BACKUPS, State.WARNING, summary=f"no backup folder at {folder}")
    files = [path for path in folder.iterdir() if path.is_file() and not path.name.startswith(".")]
    if not files:
        return Reading(Probe.BACKUPS, State.CRITICAL, summary="no backups yet", data={"count": 0})
    newest = max(files, key=lambda path: path.stat().st_mtime)
    stat = newest.stat()
    age_hours = round((time.time() - stat.st_mtime) / 3600, 2)
    return Reading(
        Probe.BACKUPS,
        grade(age_hours, host.thresholds, "backup_age_hours"),
        age_hours,
        f"newest {newest.name}, {age_hours:.1f} h old, {stat.st_size / 1024 / 1024:.1f} MB",
        {"newest": newest.name, "size_bytes": stat.st_size, "age_hours": age_hours, "count": len(files)},
    )
