"""Paging in the Django admin: channels are edited here or on the site; escalations, pages and
delivery attempts are history and only read."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin import ReadOnlyAdminMixin
from apps.paging.models import Channel, DeliveryAttempt, Escalation, Page, PathLevel
from apps.paging.services.verification import channel_save


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin[Channel]):
    list_display = ("contact", "kind", "address", "priority", "verified_at")
    list_filter = ("kind", "priority")
    search_fields = ("contact__name", "address")

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        # The same rule as the site: a changed address is not verified any more.
        channel_save(channel=obj)


class PathLevelInline(ReadOnlyAdminMixin, admin.TabularInline[PathLevel, Escalation]):
    model = PathLevel
    fields = ("position", "role_name", "ack_timeout_seconds")


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Escalation]):
    list_display = ("incident", "state", "current_level", "next_step_due_at", "acknowledged_name", "acknowledged_at")
    list_filter = ("state",)
    inlines = [PathLevelInline]


class AttemptInline(ReadOnlyAdminMixin, admin.TabularInline[DeliveryAttempt, Page]):
    model = DeliveryAttempt
    fields = ("kind", "priority", "address", "started_at", "finished_at", "outcome", "detail")


@admin.register(Page)
class PageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Page]):
    list_display = ("created_at", "incident", "contact_name", "level", "state")
    list_filter = ("state",)
    inlines = [AttemptInline]
