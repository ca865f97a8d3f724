from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.contacts.models import ContactRole
from apps.runbooks import step_actions


class Scenario(models.TextChoices):
    """The emergencies of the procedures."""

    SYSTEM_OUTAGE = "system_outage", "System Outage"
    DATA_CORRUPTION = "data_corruption", "Data Corruption"
    SECURITY_BREACH = "security_breach", "Security Breach"
    DATABASE_FAILURE = "database_failure", "Database Failure"
    WEBSITE_DEFACEMENT = "website_defacement", "Website Defacement"


SCENARIO_DESCRIPTIONS = {
    Scenario.SYSTEM_OUTAGE: "Complete system unavailability",
    Scenario.DATA_CORRUPTION: "Critical data is corrupted or inconsistent",
    Scenario.SECURITY_BREACH: "Confirmed or suspected security incident",
    Scenario.DATABASE_FAILURE: "Database is unavailable or experiencing severe performance issues",
    Scenario.WEBSITE_DEFACEMENT: "Public-facing website is defaced or displaying inappropriate content",
}


class Runbook(models.Model):
    """The procedure for one scenario, or one of the two phases every incident shares."""

    class Kind(models.TextChoices):
        INITIAL_RESPONSE = "initial_response", "Initial Response"
        SCENARIO = "scenario", "Scenario"
        POST_EMERGENCY = "post_emergency", "Post-Emergency Actions"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    scenario = models.CharField(max_length=30, choices=Scenario.choices, blank=True, unique=True, null=True)
    title = models.CharField(max_length=150)
    summary = models.TextField(blank=True, max_length=4000)
    first_contact_role = models.ForeignKey(
        ContactRole,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="first_for_runbooks",
        help_text="Who to call first for this scenario.",
    )
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    last_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "title"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="scenario") & models.Q(scenario__isnull=False))
                | (~models.Q(kind="scenario") & models.Q(scenario__isnull=True)),
                name="runbook_scenario_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=~models.Q(kind="scenario"), name="one_shared_runbook_per_phase"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def needs_review(self) -> bool:
        if self.last_reviewed_at is None:
            return True
        return self.last_reviewed_at < timezone.now() - timedelta(days=settings.RUNBOOK_REVIEW_DAYS)


class RunbookStep(models.Model):
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True, max_length=10000, help_text="Markdown; commands in code blocks.")
    action = models.CharField(
        max_length=40,
        choices=step_actions.choices,
        blank=True,
        help_text="The remediation action this step runs, from the action catalog.",
    )

    class Meta:
        ordering = ["runbook", "position"]
        constraints = [models.UniqueConstraint(fields=["runbook", "position"], name="unique_step_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"
