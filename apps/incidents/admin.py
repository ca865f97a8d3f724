"""Incidents in the Django admin are for reading: every change goes through the site's services,
which write the timeline; the timeline and notification log are append-only."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin
from apps.incidents.models import ChecklistItem, Incident, NotificationEntry, TimelineEntry


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


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[TimelineEntry]):
    list_display = ("created_at", "incident", "kind", "author", "summary")
    list_filter = ("kind",)
    search_fields = ("summary", "body")


@admin.register(NotificationEntry)
class NotificationEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[NotificationEntry]):
    list_display = ("notified_at", "incident", "recipient", "method", "acknowledged_at")
    list_filter = ("method",)
