"""Admin pieces shared by the apps."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """For history and records (timelines, logs, readings, deliveries): readable in the admin,
    never added or edited there. `allow_delete` lets an app keep manual clean-up of data that is
    not history (health readings, which a periodic task prunes anyway)."""

    allow_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_delete and super().has_delete_permission(request, obj)  # type: ignore[misc]
