from __future__ import annotations

import zoneinfo

from django import forms

from apps.accounts.models import User

TIME_ZONES = sorted(zoneinfo.available_timezones())


class AccountForm(forms.ModelForm[User]):
    timezone = forms.ChoiceField(
        label="Time zone", choices=[(tz, tz) for tz in TIME_ZONES], help_text="Times are shown to you in this zone."
    )

    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "timezone"]
