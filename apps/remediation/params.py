"""Parameter fields shared by the actions. Each refuses what could reach a command or a path it
should not: shell metacharacters, "..", absolute paths, names not in the host's lists."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

if TYPE_CHECKING:
    from apps.remediation.models import Artifact

LABEL = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,29}$", "A label is up to 30 lower-case letters, digits and hyphens, e.g. emergency."
)
# The label of the copies a restore takes of what it replaces.
SAFETY_LABEL = "pre-restore"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class MessageField(forms.CharField):
    """Free text shown to people (a maintenance message): any characters but control codes; it
    is HTML-escaped wherever it is written and never reaches a command."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 500)
        super().__init__(**kwargs)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and _CONTROL.search(value):
            raise ValidationError("The message may not contain control characters.")


def label_field(**kwargs: Any) -> forms.CharField:
    return forms.CharField(max_length=30, validators=[LABEL], **kwargs)


class ArtifactChoiceField(forms.ChoiceField):
    """A file this host produced earlier (a backup, a snapshot), chosen by name from the record
    (or "latest"); anything else is refused before it reaches the worker, and again there."""

    def __init__(self, *, kind: str, allow_latest: bool = True, **kwargs: Any) -> None:
        self.kind = kind
        self.allow_latest = allow_latest
        super().__init__(choices=[], **kwargs)

    def bind_host(self, host: Any) -> None:
        from apps.remediation.models import Artifact

        names: list[tuple[str, str]] = [("latest", "The newest")] if self.allow_latest else []
        if host is not None:
            for artifact in Artifact.objects.filter(host=host, kind=self.kind).order_by("-created_at")[:200]:
                names.append((artifact.name, f"{artifact.name} ({artifact.created_at:%Y-%m-%d %H:%M} UTC)"))
        self.choices = names
        self.host = host

    def resolve(self, value: str) -> str:
        """ "latest" as the concrete file it means now, so the approver and the record show exactly
        what will be used (not whatever is newest when the worker gets to it). Safety copies
        taken before a restore ("pre-restore") are never "latest"."""
        if value != "latest" or self.host is None:
            return value
        newest = newest_artifact(self.host, self.kind)
        return newest.name if newest is not None else value


def newest_artifact(host: Any, kind: str) -> Artifact | None:
    """What "latest" means: the host's newest recorded file of this kind that is not a safety
    copy taken before a restore (that holds the state the restore replaced)."""
    from apps.remediation.models import Artifact

    return (
        Artifact.objects.filter(host=host, kind=kind).exclude(label=SAFETY_LABEL).order_by("-created_at", "-pk").first()
    )
