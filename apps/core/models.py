"""Model bases shared by every app."""

from __future__ import annotations

from typing import Any

import pgtrigger
from django.db import models


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """History is never rewritten: bulk updates and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError(f"{self.model.__name__} is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{self.model.__name__} is append-only")


class AppendOnlyModel(models.Model):
    """History rows: added, never changed or deleted (a correction is a new row).

    The ORM refuses it here; on PostgreSQL a trigger (django-pgtrigger) refuses UPDATE and DELETE
    from anywhere, raw SQL included. A subclass with a Meta of its own must inherit this one's
    (`class Meta(AppendOnlyModel.Meta)`) to keep the trigger."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True
        triggers = [pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError(f"{self._history_name()} are append-only; add a new one instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{self._history_name()} are append-only.")

    def _history_name(self) -> str:
        return str(self._meta.verbose_name_plural).capitalize()
