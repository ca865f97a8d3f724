from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class ContactRole(models.Model):
    """A responsibility in an emergency (the seed's "Role" column): System Administrator, ..."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ContactQuerySet(models.QuerySet["Contact"]):
    def stale(self) -> ContactQuerySet:
        """Contacts never verified or verified longer ago than `CONTACT_VERIFY_DAYS`."""
        cutoff = timezone.now() - timedelta(days=settings.CONTACT_VERIFY_DAYS)
        return self.filter(models.Q(last_verified_at__isnull=True) | models.Q(last_verified_at__lt=cutoff))


class Contact(models.Model):
    """A person or provider to call, with the seed's columns plus notes and verification."""

    role = models.ForeignKey(ContactRole, on_delete=models.PROTECT, related_name="contacts")
    name = models.CharField(max_length=150)
    primary_contact = models.CharField(max_length=200, help_text="Phone number, email address or URL.")
    secondary_contact = models.CharField(max_length=200, blank=True, help_text="Phone number, email address or URL.")
    notes = models.TextField(blank=True, max_length=4000)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contact_entries",
        help_text="The Incident Center account of this person, if they have one.",
    )
    last_verified_at = models.DateTimeField(null=True, blank=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["role__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.role})"

    @property
    def needs_verification(self) -> bool:
        if self.last_verified_at is None:
            return True
        return self.last_verified_at < timezone.now() - timedelta(days=settings.CONTACT_VERIFY_DAYS)


class EscalationLevel(models.Model):
    """One rung of the escalation path: who to call next, and how long to wait for an answer."""

    position = models.PositiveSmallIntegerField(unique=True)
    role = models.ForeignKey(ContactRole, on_delete=models.PROTECT, related_name="escalation_levels")
    ack_timeout_minutes = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="Minutes to wait for an acknowledgement before escalating to the next level.",
    )

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.position}. {self.role}"
