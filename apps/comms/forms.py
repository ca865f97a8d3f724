"""Forms of stakeholder communications. Each validates on the server with a message a person can
act on; text meant for the public is checked for what must never be published."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils import timezone

from apps.comms.models import Component, ComponentState, Update
from apps.comms.services.updates import Draft
from apps.incidents.models import Incident

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
# Markdown is sanitised when shown; these are refused outright so nobody believes they work.
_SCRIPT = re.compile(r"<\s*/?\s*script", re.IGNORECASE)
_SCRIPT_URL = re.compile(r"(?:java|vb)\s*script\s*:|data\s*:\s*text/html", re.IGNORECASE)


def unsafe_markup(text: str) -> str | None:
    """Why this Markdown is refused, or None."""
    if _SCRIPT.search(text):
        return "Scripts are not allowed in updates."
    if _SCRIPT_URL.search(text):
        return "Links must be web (http, https), mail or phone links."
    return None


def internal_names_in(text: str) -> list[str]:
    """Host names, responders' and contacts' names found in text meant for the public."""
    from apps.accounts.models import User
    from apps.contacts.models import Contact
    from apps.health.models import Host

    names = set(Host.objects.values_list("name", flat=True))
    for first, last in User.objects.filter(is_active=True).values_list("first_name", "last_name"):
        if first.strip() and last.strip():
            names.add(f"{first.strip()} {last.strip()}")
    names.update(name for name in Contact.objects.values_list("name", flat=True) if " " in name.strip())
    found = [name for name in names if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE)]
    return sorted(found, key=str.lower)


def _no_internal_names(form: forms.Form, field: str, text: str) -> None:
    found = internal_names_in(text)
    if found:
        form.add_error(
            field,
            f"The public must not read host names or people's names: remove {', '.join(found)} "
            "(or post it as an internal update).",
        )


def component_field_name(component: Component) -> str:
    return f"component_{component.code}"


class UpdateForm(forms.Form):
    audience = forms.ChoiceField(
        label="Who is it for?",
        choices=[
            (Update.Audience.INTERNAL, "Internal: responders and managers"),
            (Update.Audience.PUBLIC, "Public: status page and subscribers"),
        ],
        widget=forms.RadioSelect,
    )
    status = forms.ChoiceField(label="Status it announces", choices=Update.Status.choices, widget=forms.RadioSelect)
    title = forms.CharField(
        label="Public name of the incident",
        max_length=200,
        required=False,
        help_text="Public updates: the incident's name on the status page, in customers' words.",
    )
    body = forms.CharField(
        label="Update",
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 9}),
        help_text="Markdown: **bold**, lists with -, links. Shown sanitised.",
    )
    corrects = forms.TypedChoiceField(
        label="Corrects an earlier update",
        required=False,
        coerce=int,
        empty_value=None,
        help_text="Updates are never edited: a correction is a new update that points at the old one.",
    )

    def __init__(
        self,
        *args: Any,
        incident: Incident,
        components: list[Component],
        earlier: list[Update],
        **kwargs: Any,
    ) -> None:
        # Its own ids: the incident page around it has other forms with a "title" or a "body".
        kwargs.setdefault("auto_id", "comms_%s")
        super().__init__(*args, **kwargs)
        self.incident = incident
        self.components = components
        self.fields["corrects"].choices = [("", "— not a correction —")] + [  # type: ignore[attr-defined]
            (
                str(update.pk),
                f"{timezone.localtime(update.created_at):%Y-%m-%d %H:%M} · "
                f"{update.get_audience_display()} · {update.get_status_display()}",
            )
            for update in earlier
        ]
        for component in components:
            self.fields[component_field_name(component)] = forms.ChoiceField(
                label=component.name,
                required=False,
                choices=[("", "Not in this update"), *ComponentState.choices],
            )

    def component_fields(self) -> list[forms.BoundField]:
        return [self[component_field_name(c)] for c in self.components]

    def clean_body(self) -> str:
        body = str(self.cleaned_data["body"]).replace("\r\n", "\n").strip()
        reason = unsafe_markup(body)
        if reason:
            raise forms.ValidationError(reason)
        return body

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        public = data.get("audience") == Update.Audience.PUBLIC
        title = str(data.get("title") or "").strip()
        if public and not title:
            self.add_error("title", "A public update needs the incident's public name.")
        if public:
            _no_internal_names(self, "title", title)
            if data.get("body"):
                _no_internal_names(self, "body", str(data["body"]))
        if data.get("status") == Update.Status.RESOLVED:
            for component in self.components:
                state = data.get(component_field_name(component))
                if state and state != ComponentState.OPERATIONAL:
                    self.add_error(
                        component_field_name(component),
                        "A resolved update returns its components to operational.",
                    )
        corrects = data.get("corrects")
        if corrects is not None and public is False:
            earlier = next((u for u in Update.objects.filter(pk=corrects, incident=self.incident)), None)
            if earlier is not None and earlier.is_public:
                self.add_error("corrects", "A public update is corrected in public: choose Public.")
        return data

    def draft(self) -> Draft:
        data = self.cleaned_data
        states = {
            component.pk: str(data[component_field_name(component)])
            for component in self.components
            if data.get(component_field_name(component))
        }
        return Draft(
            audience=data["audience"],
            status=data["status"],
            body=data["body"],
            title=str(data.get("title") or ""),
            component_states=states,
            corrects_id=data.get("corrects"),
        )


class MaintenanceForm(forms.Form):
    title = forms.CharField(max_length=200, help_text="Shown on the status page, e.g. “Database upgrade”.")
    body = forms.CharField(
        label="What happens",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Markdown. What will be done and what customers will notice.",
    )
    starts_at = forms.DateTimeField(label="Starts", widget=DATETIME_INPUT, help_text="In your time zone.")
    ends_at = forms.DateTimeField(label="Ends", widget=DATETIME_INPUT)
    components = forms.ModelMultipleChoiceField(
        queryset=Component.objects.none(), widget=forms.CheckboxSelectMultiple, label="Components under maintenance"
    )
    notify = forms.BooleanField(label="Mail the subscribers now", required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["components"].queryset = Component.objects.all()  # type: ignore[attr-defined]

    def clean_body(self) -> str:
        body = str(self.cleaned_data["body"]).replace("\r\n", "\n").strip()
        reason = unsafe_markup(body)
        if reason:
            raise forms.ValidationError(reason)
        return body

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends:
            if ends <= starts:
                self.add_error("ends_at", "The window must end after it starts.")
            elif ends <= timezone.now():
                self.add_error("ends_at", "That window is already over: announce windows that are still to come.")
        for name in ("title", "body"):
            if data.get(name):
                _no_internal_names(self, name, str(data[name]))
        return data


class SubscribeForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    scope = forms.ChoiceField(
        label="Send me",
        choices=[("all", "Every update"), ("chosen", "Only updates about the components I choose")],
        widget=forms.RadioSelect,
        initial="all",
    )
    components = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="Components")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["components"].choices = [  # type: ignore[attr-defined]
            (c.code, c.name) for c in Component.objects.all()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == "chosen" and not data.get("components"):
            self.add_error("components", "Choose at least one component, or choose every update.")
        return data
