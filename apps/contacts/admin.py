from django.contrib import admin

from apps.contacts.models import Contact, ContactRole, EscalationLevel


@admin.register(ContactRole)
class ContactRoleAdmin(admin.ModelAdmin[ContactRole]):
    search_fields = ("name",)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin[Contact]):
    list_display = ("name", "role", "primary_contact", "secondary_contact", "last_verified_at")
    list_filter = ("role",)
    search_fields = ("name", "primary_contact", "secondary_contact")
    autocomplete_fields = ("role",)


@admin.register(EscalationLevel)
class EscalationLevelAdmin(admin.ModelAdmin[EscalationLevel]):
    list_display = ("position", "role", "ack_timeout_minutes")
    ordering = ("position",)
