"""Incidents in the Django admin are for reading: every change goes through the site's services,
which write the timeline; the timeline and notification log are append-only."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin
from apps.incidents.models import ChecklistItem, Incident, NotificationEntry, TimelineEvent


class ChecklistInline(ReadOnlyAdminMixin, admin.TabularInline[ChecklistItem, Incident]):
    model = ChecklistItem
    fields = ("position", "phase", "title", "action", "state", "completed_by", "completed_at", "skip_reason")
    ordering = ("position",)


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Incident]):
    list_display = ("__str__", "severity", "scenario", "status", "declared_at", "commander")
    list_filter = ("status", "severity", "scenario")
    search_fields = ("title",)
    inlines = [ChecklistInline]


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[TimelineEvent]):
    list_display = ("at", "incident", "kind", "actor_name", "text")
    list_filter = ("kind", "component")
    list_select_related = ("actor",)
    search_fields = ("body", "legacy_text")


@admin.register(NotificationEntry)
class NotificationEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[NotificationEntry]):
    list_display = ("notified_at", "incident", "recipient", "method", "acknowledged_at")
    list_filter = ("method",)
