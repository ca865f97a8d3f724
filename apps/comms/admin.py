"""Admins manage the status page's components here; updates, deliveries and reminders are for
reading (updates are append-only, deliveries are the record of what was mailed)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.comms.models import CadenceReminder, Component, Delivery, MaintenanceWindow, Subscriber, Update
from apps.comms.services.components import component_changed
from apps.core.admin import ReadOnlyAdminMixin


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin[Component]):
    list_display = ("name", "position", "description", "code")
    list_editable = ("position",)
    search_fields = ("name",)

    def save_model(self, request: HttpRequest, obj: Component, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        component_changed()

    def delete_model(self, request: HttpRequest, obj: Component) -> None:
        super().delete_model(request, obj)
        component_changed()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Component]) -> None:
        super().delete_queryset(request, queryset)
        component_changed()

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        component_changed()


@admin.register(Update)
class UpdateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Update]):
    list_display = ("created_at", "incident", "audience", "status", "title", "author")
    list_filter = ("audience", "status")
    search_fields = ("title", "body")


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[MaintenanceWindow]):
    list_display = ("title", "starts_at", "ends_at", "cancelled_at")


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin[Subscriber]):
    list_display = ("email", "all_components", "confirmed_at", "unsubscribed_at")
    list_filter = ("all_components",)
    search_fields = ("email",)
    readonly_fields = ("confirm_nonce", "confirmation_sent_at", "pending_all_components", "pending_component_codes")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # only their owner subscribes an address (double opt-in)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Delivery]):
    list_display = ("notice", "subscriber", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status",)


@admin.register(CadenceReminder)
class CadenceReminderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[CadenceReminder]):
    list_display = ("incident", "due_at", "recipient", "sent_at", "error")
