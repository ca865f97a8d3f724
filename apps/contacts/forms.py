from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import URLValidator

from apps.accounts.models import User
from apps.contacts.models import Contact, ContactRole, EscalationLevel
from apps.contacts.phone import is_phone
from apps.core.forms import set_choices

# A phone number, an email address or a web address: what a responder can act on at 3 a.m.
_EMAIL = forms.EmailField()
# Web addresses only (a support portal): ftp:// and the like are not something to call.
_URL = forms.URLField(assume_scheme="https", validators=[URLValidator(schemes=["http", "https"])])


def validate_reachable(value: str) -> str:
    value = value.strip()
    if not value:
        return value
    if is_phone(value):
        return value
    for field in (_EMAIL, _URL):
        try:
            cleaned = field.clean(value)
        except forms.ValidationError:
            continue
        # Keep what the field made of it: a bare web address gains its https:// and is shown as a link.
        return str(cleaned)
    raise forms.ValidationError("Enter a phone number (+44 20 7946 0000), an email address or a web address.")


class ContactForm(forms.ModelForm[Contact]):
    class Meta:
        model = Contact
        fields = ["role", "name", "primary_contact", "secondary_contact", "notes", "user"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self.fields["user"], User.objects.filter(is_active=True))

    def clean_primary_contact(self) -> str:
        return validate_reachable(self.cleaned_data["primary_contact"])

    def clean_secondary_contact(self) -> str:
        return validate_reachable(self.cleaned_data.get("secondary_contact", ""))


class ContactRoleForm(forms.ModelForm[ContactRole]):
    class Meta:
        model = ContactRole
        fields = ["name"]


class EscalationLevelForm(forms.ModelForm[EscalationLevel]):
    class Meta:
        model = EscalationLevel
        fields = ["role", "ack_timeout_minutes"]
        labels = {"ack_timeout_minutes": "Acknowledgement timeout (minutes)"}
