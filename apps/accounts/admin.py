from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from apps.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    list_display = ("username", "first_name", "last_name", "email", "role", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        ("Incident Center", {"fields": ("role", "timezone")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        ("Incident Center", {"fields": ("role", "email", "first_name", "last_name")}),
    )
