"""Shared set-up for benchmarks: Django on a scratch database that is created and dropped."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "incidentcenter.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh, migrated copy of the configured database; yields its DATABASE_URL."""
    from django.conf import settings

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    db = settings.DATABASES["default"]
    url = os.environ.get("DATABASE_URL", "")
    if db["ENGINE"].endswith("postgresql"):
        user = db.get("USER") or "postgres"
        url = f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    try:
        yield url
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]
