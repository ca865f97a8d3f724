from __future__ import annotations

import re
from typing import Any

from django import forms

from apps.contacts.models import Contact
from apps.paging.models import Channel

_PHONE = re.compile(r"^\+[0-9 ()./-]{6,30}$")


class ChannelForm(forms.ModelForm[Channel]):
    class Meta:
        model = Channel
        fields = ["kind", "address", "priority"]
        labels = {"kind": "Channel", "priority": "Try it"}
        help_texts = {
            "priority": "The primary channel is tried first; the secondary when the primary fails.",
        }

    def __init__(self, *args: Any, contact: Contact, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contact = contact

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, address = data.get("kind"), (data.get("address") or "").strip()
        if not kind or not address:
            return data
        if kind == Channel.Kind.EMAIL:
            try:
                forms.EmailField().clean(address)
            except forms.ValidationError:
                self.add_error("address", "Enter an email address, like dana@example.com.")
        elif kind == Channel.Kind.WEBHOOK:
            try:
                forms.URLField(assume_scheme="https").clean(address)
            except forms.ValidationError:
                self.add_error("address", "Enter the incoming-webhook URL, starting with https://.")
            else:
                if not address.lower().startswith(("https://", "http://")):
                    self.add_error("address", "A webhook URL starts with https:// (or http://).")
        elif kind == Channel.Kind.SMS and not _PHONE.match(address):
            self.add_error("address", "Enter the phone number in international format, like +44 20 7946 0000.")
        data["address"] = address
        priority = data.get("priority")
        taken = Channel.objects.filter(contact=self.contact, priority=priority).exclude(pk=self.instance.pk).first()
        if taken is not None:
            self.add_error(
                "priority",
                f"{self.contact.name} already has a {taken.get_priority_display().lower()} channel ({taken}). "
                "Edit that one, or choose the other priority.",
            )
        return data


class SeenStepForm(forms.Form):
    """The escalation step the user saw, so a double click or a stale page acts once."""

    seen_step = forms.IntegerField(required=False, min_value=1)
