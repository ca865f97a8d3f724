from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

host_name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,62}$",
    "A host name is lower-case letters, digits and hyphens (it names the worker's queue host.<name>).",
)


class Host(models.Model):
    """A machine of the protected system; its Celery worker consumes the queue `host.<name>`."""

    name = models.CharField(max_length=63, unique=True, validators=[host_name_validator])
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return f"host.{self.name}"
