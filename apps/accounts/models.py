from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (for example Europe/London or Africa/Nairobi).")


class User(AbstractUser):
    """A person who signs in. What they may do follows from their role (see `permissions.py`)."""

    class Role(models.TextChoices):
        RESPONDER = "responder", "Responder"
        MANAGER = "manager", "Manager"
        COMMUNICATIONS = "communications", "Communications"
        ADMIN = "admin", "Admin"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.RESPONDER)
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text="Times are shown to this user in this zone.",
    )

    class Meta:
        ordering = ["username"]

    def save(self, *args: object, **kwargs: object) -> None:
        # Admins run the Django admin; nobody else reaches it unless they are a superuser.
        self.is_staff = self.role == self.Role.ADMIN or self.is_superuser
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    def __str__(self) -> str:
        return self.display_name
