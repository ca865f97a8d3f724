from django import forms
from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin
from apps.remediation import catalog
from apps.remediation.models import ActionRun, ApprovalRule, Artifact, RunLogLine


class ApprovalRuleForm(forms.ModelForm[ApprovalRule]):
    action = forms.ChoiceField(choices=catalog.choices)

    class Meta:
        model = ApprovalRule
        fields = ["action", "needs_approval", "managers_may_approve", "admins_may_approve", "allow_break_glass"]


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(admin.ModelAdmin[ApprovalRule]):
    """Who must approve which action. Without a rule, dangerous actions need a manager's or an
    admin's approval (never the requester's) and may break the glass; the others run at once."""

    form = ApprovalRuleForm
    list_display = ("action", "needs_approval", "managers_may_approve", "admins_may_approve", "allow_break_glass")


@admin.register(ActionRun)
class ActionRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ActionRun]):
    """What was asked and what the workers did: changed only through the site's own steps."""

    list_display = ("pk", "action", "host", "state", "requested_by", "requested_at", "incident")
    list_filter = ("state", "action", "host")
    list_select_related = ("host", "requested_by", "incident")


@admin.register(RunLogLine)
class RunLogLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[RunLogLine]):
    list_display = ("run", "seq", "at", "stream", "text")
    list_select_related = ("run",)


@admin.register(Artifact)
class ArtifactAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Artifact]):
    list_display = ("name", "kind", "host", "size", "created_at", "run")
    list_filter = ("kind", "host")
    list_select_related = ("host", "run")
