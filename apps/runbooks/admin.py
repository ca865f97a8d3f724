from django.contrib import admin

from apps.runbooks.models import Runbook, RunbookStep


class RunbookStepInline(admin.StackedInline[RunbookStep, Runbook]):
    model = RunbookStep
    extra = 0
    ordering = ("position",)


@admin.register(Runbook)
class RunbookAdmin(admin.ModelAdmin[Runbook]):
    list_display = ("title", "kind", "scenario", "first_contact_role", "last_reviewed_at")
    list_filter = ("kind",)
    inlines = [RunbookStepInline]
