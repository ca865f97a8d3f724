"""The forms of a run request: the options every action shares, and the action's own
parameters (its `Params` form, prefixed "p")."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse

from apps.health.models import Host
from apps.remediation import catalog
from apps.remediation.models import ActionRun

MAX_REVERT_MINUTES = 24 * 60


class RunOptionsForm(forms.Form):
    host = forms.ModelChoiceField(queryset=Host.objects.all(), to_field_name="name", empty_label=None)
    dry_run = forms.BooleanField(
        required=False, label="Dry run", help_text="Show the exact commands and files without changing anything."
    )
    revert_minutes = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_REVERT_MINUTES,
        label="Revert by itself after (minutes)",
        help_text="Unless someone keeps the change in time, its undo runs by itself. Leave empty for no timer.",
    )
    break_glass_reason = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Break glass: run without waiting for approval, because…",
        help_text="Only when a second person cannot approve in time. Loud on the timeline and the board.",
    )
    evidence_override_reason = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Run before evidence is captured, because…",
        help_text="No forensic bundle exists for this incident yet; this action would change what it must capture.",
    )

    def __init__(self, *args: Any, action: catalog.RemediationAction, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.action = action
        # Choosing another host reloads the form for it (its backups, its services), keeping
        # what was typed.
        self.fields["host"].widget.attrs.update(
            {
                "hx-get": reverse("remediation:new", args=[action.key]),
                "hx-trigger": "change",
                "hx-include": "[name^='p-'], [name='incident'], [name='step'], [name='undoes']",
                "hx-target": "body",
                "hx-push-url": "true",
            }
        )
        if not action.revert_timer:
            del self.fields["revert_minutes"]
        if not action.changes_state:
            del self.fields["dry_run"]

    def clean_host(self) -> Host:
        host: Host = self.cleaned_data["host"]
        if problem := self.action.host_problem(host):
            raise forms.ValidationError(problem)
        return host


def params_form(
    action: catalog.RemediationAction, host: Host | None, data: Any = None, initial: Any = None
) -> catalog.ActionParams:
    return action.Params(data=data, initial=initial, host=host, prefix="p")


class DecisionForm(forms.Form):
    note = forms.CharField(required=False, max_length=500, widget=forms.TextInput(), label="Reason")


class RunFilterForm(forms.Form):
    """The actions page's filters; an invalid value is ignored, never an error page."""

    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *ActionRun.State.choices])
    action = forms.ChoiceField(required=False)
    host = forms.CharField(required=False, max_length=63)
    person = forms.CharField(required=False, max_length=150, label="Requested by (username)")
    incident = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, label="Incident number")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        action_field = self.fields["action"]
        assert isinstance(action_field, forms.ChoiceField)
        action_field.choices = [("", "Any action"), *catalog.choices()]
