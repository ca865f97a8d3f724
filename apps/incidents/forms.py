from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.core.forms import set_choices
from apps.incidents.models import ChecklistItem, Incident, NotificationEntry, Severity
from apps.incidents.services import FieldChange
from apps.runbooks.models import Scenario

# Clocks drift; a "first noticed" a little in the future is a typo of minutes, not of days.
FUTURE_TOLERANCE = timedelta(minutes=5)
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _commanders() -> Any:
    return User.objects.filter(is_active=True, role__in=[User.Role.RESPONDER, User.Role.ADMIN]).order_by("username")


def _active_users() -> Any:
    return User.objects.filter(is_active=True).order_by("username")


class PersonChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.display_name} ({obj.get_role_display()})"


def _clean_noticed_at(value: Any) -> Any:
    if value and value > timezone.now() + FUTURE_TOLERANCE:
        raise forms.ValidationError("When it was first noticed cannot be in the future.")
    return value


class IncidentDeclareForm(forms.ModelForm[Incident]):
    """Only scenario, severity and title are required: declaring takes a handful of clicks."""

    scenario = forms.ChoiceField(choices=Scenario.choices, widget=forms.RadioSelect)
    severity = forms.ChoiceField(choices=Severity.choices, widget=forms.RadioSelect)
    noticed_at = forms.DateTimeField(
        label="First noticed", required=False, widget=DATETIME_INPUT, help_text="Leave empty for now."
    )
    commander = PersonChoiceField(
        queryset=_commanders(), required=False, help_text="Leave empty to command it yourself."
    )
    coordinator = PersonChoiceField(queryset=_active_users(), required=False, label="Communication coordinator")

    class Meta:
        model = Incident
        fields = [
            "scenario",
            "severity",
            "title",
            "noticed_at",
            "affected_components",
            "impact",
            "commander",
            "coordinator",
            "channel_url",
        ]
        widgets = {
            "affected_components": forms.Textarea(attrs={"rows": 2}),
            "impact": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self.fields["commander"], _commanders())
        set_choices(self.fields["coordinator"], _active_users())

    def clean_noticed_at(self) -> Any:
        return _clean_noticed_at(self.cleaned_data.get("noticed_at"))


class IncidentDetailsForm(forms.Form):
    """Edits of an incident's details. Each field travels with the value the user saw
    (`seen-<field>`), so a change made meanwhile by someone else is reported, not overwritten."""

    title = forms.CharField(max_length=200)
    severity = forms.ChoiceField(choices=Severity.choices)
    noticed_at = forms.DateTimeField(label="First noticed", widget=DATETIME_INPUT)
    affected_components = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    impact = forms.CharField(
        label="Impact on users and operations",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    commander = PersonChoiceField(queryset=User.objects.none(), required=False, label="Incident commander")
    coordinator = PersonChoiceField(queryset=User.objects.none(), required=False, label="Communication coordinator")
    channel_url = forms.URLField(label="Communication channel", required=False, max_length=500, assume_scheme="https")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self.fields["commander"], _commanders())
        set_choices(self.fields["coordinator"], _active_users())

    @classmethod
    def for_incident(cls, incident: Incident, data: Any = None, prefix: str | None = None) -> IncidentDetailsForm:
        initial = {name: getattr(incident, name) for name in cls.base_fields}
        return cls(data=data, initial=initial, prefix=prefix)

    def clean_noticed_at(self) -> Any:
        return _clean_noticed_at(self.cleaned_data.get("noticed_at"))


def details_changes(incident: Incident, data: Any) -> tuple[list[FieldChange] | None, IncidentDetailsForm]:
    """The edited values and the values the user saw, as changes; None when the input is invalid."""
    form = IncidentDetailsForm.for_incident(incident, data=data)
    seen = IncidentDetailsForm(data=data, prefix="seen")
    if not form.is_valid():
        return None, form
    # The seen values come from our own page; if they are missing, treat the page as current.
    current = {name: getattr(incident, name) for name in form.fields}
    seen_values = seen.cleaned_data if seen.is_valid() else current
    changes = [FieldChange(name, seen_values[name], value) for name, value in form.cleaned_data.items()]
    return changes, form


class StatusForm(forms.Form):
    from_status = forms.ChoiceField(choices=Incident.Status.choices)
    to_status = forms.ChoiceField(choices=Incident.Status.choices)


class ChecklistStateForm(forms.Form):
    from_state = forms.ChoiceField(choices=ChecklistItem.State.choices)
    reason = forms.CharField(required=False, max_length=500)


class NotificationForm(forms.Form):
    contact = forms.ModelChoiceField(queryset=Contact.objects.none(), required=False, empty_label="Someone else…")
    recipient = forms.CharField(
        required=False, max_length=200, label="Or name", help_text="When the person is not in the contact sheet."
    )
    method = forms.ChoiceField(choices=NotificationEntry.Method.choices)
    notified_at = forms.DateTimeField(label="When", required=False, widget=DATETIME_INPUT, help_text="Empty means now.")
    note = forms.CharField(required=False, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self.fields["contact"], Contact.objects.select_related("role"))

    def clean_notified_at(self) -> Any:
        return _clean_noticed_at(self.cleaned_data.get("notified_at"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("contact") and not (data.get("recipient") or "").strip():
            raise forms.ValidationError("Choose a contact, or write the name of who was notified.")
        return data


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Note",
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What you saw or did (Markdown)"}),
    )
