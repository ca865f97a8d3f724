from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend


class RoleBackend(ModelBackend):
    """The admin role holds every model permission in the Django admin; the ModelAdmins still
    refuse edits of append-only history to everyone."""

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if user_obj.is_active and getattr(user_obj, "role", None) == "admin":
            return True
        return super().has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        if user_obj.is_active and getattr(user_obj, "role", None) == "admin":
            return True
        return super().has_module_perms(user_obj, app_label)
