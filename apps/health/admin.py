from django import forms
from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin
from apps.health.models import AlertGroup, Host, MinuteAggregate, Sample, SecuritySnapshot


class HostForm(forms.ModelForm[Host]):
    class Meta:
        model = Host
        fields = ["name", "description", "services", "website_urls", "app_dir", "thresholds"]
        widgets = {"website_urls": forms.Textarea(attrs={"rows": 3})}


@admin.register(Host)
class HostAdmin(admin.ModelAdmin[Host]):
    form = HostForm
    list_display = ("name", "description", "services", "created_at")
    search_fields = ("name", "description")


class RecordedByWorkers(ReadOnlyAdminMixin):
    """Readings and snapshots are what the workers measured: readable, never edited by hand."""

    allow_delete = True


@admin.register(Sample)
class SampleAdmin(RecordedByWorkers, admin.ModelAdmin[Sample]):
    list_display = ("taken_at", "host", "probe", "state", "summary")
    list_filter = ("probe", "state", "host")
    date_hierarchy = "taken_at"


@admin.register(MinuteAggregate)
class MinuteAggregateAdmin(RecordedByWorkers, admin.ModelAdmin[MinuteAggregate]):
    list_display = ("minute", "host", "probe", "count", "value_avg", "worst_state")
    list_filter = ("probe", "host")


@admin.register(SecuritySnapshot)
class SecuritySnapshotAdmin(RecordedByWorkers, admin.ModelAdmin[SecuritySnapshot]):
    list_display = ("requested_at", "host", "kind", "status", "requested_by")
    list_filter = ("kind", "status")


@admin.register(AlertGroup)
class AlertGroupAdmin(RecordedByWorkers, admin.ModelAdmin[AlertGroup]):
    list_display = ("group_key", "incident", "status", "last_payload_at")
