"""The one rule for phone numbers, used wherever one is entered, recognised or dialled.

A phone number is written as people write it: digits with spaces, brackets, dots, slashes or
dashes between them and an optional leading `+`, 5 to 30 characters, at least 5 of them digits
(`+44 20 7946 0000`, `020 7946 0000`, `+44 (0)20 7946-0000`). In international format it starts
with `+`, which an SMS gateway needs. Normalised, it is its digits with the leading `+` (what a
gateway and a `tel:` link take): `+442079460000`.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

_WRITTEN = re.compile(r"^\+?[0-9 ()./-]{5,30}$")
MIN_DIGITS = 5
EXAMPLE = "+44 20 7946 0000"


def is_phone(value: str, *, international: bool = False) -> bool:
    """Whether `value` (surrounding spaces aside) is a phone number, in international format if asked."""
    value = value.strip()
    if not _WRITTEN.match(value) or sum(char.isdigit() for char in value) < MIN_DIGITS:
        return False
    return value.startswith("+") or not international


def normalise_phone(value: str) -> str:
    """The number as its digits with its leading `+`: `+44 (0)20 7946-0000` → `+4402079460000`."""
    value = value.strip()
    digits = re.sub(r"[^0-9]", "", value)
    return f"+{digits}" if value.startswith("+") else digits


def validate_phone(value: str, *, international: bool = False) -> str:
    """The number as written (trimmed), or `ValidationError` saying what a number looks like."""
    value = value.strip()
    if is_phone(value, international=international):
        return value
    if international and is_phone(value):
        raise ValidationError(
            f"Enter the phone number in international format, like {EXAMPLE}.", code="phone_not_international"
        )
    raise ValidationError(f"Enter a phone number, like {EXAMPLE}.", code="phone")
