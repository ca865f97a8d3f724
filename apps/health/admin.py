from django.contrib import admin

from apps.health.models import Host


@admin.register(Host)
class HostAdmin(admin.ModelAdmin[Host]):
    list_display = ("name", "description", "created_at")
    search_fields = ("name", "description")
