"""The one phone-number rule: what counts as a phone number, in international format, normalised."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.contacts.phone import is_phone, normalise_phone, validate_phone


@pytest.mark.parametrize(
    "number",
    ["+44 20 7946 0000", "020 7946 0000", "+44 (0)20 7946-0000", "+1.202.555.0100", "112 12", " +44 20 7946 0000 "],
)
def test_numbers_as_people_write_them_are_phone_numbers(number: str) -> None:
    assert is_phone(number)


@pytest.mark.parametrize(
    "value",
    ["", "1234", "+ ( ) - -", "call Bob", "+44 20 7946 0123; reboot", "dana@example.com", "https://x.example",
     "1" * 31, "12 34"],
)  # fmt: skip
def test_other_text_is_not(value: str) -> None:
    assert not is_phone(value)


def test_international_format_starts_with_a_plus() -> None:
    assert is_phone("+44 20 7946 0000", international=True)
    assert not is_phone("020 7946 0000", international=True)


def test_a_number_is_normalised_to_its_digits_and_leading_plus() -> None:
    assert normalise_phone(" +44 (0)20 7946-0003 ") == "+4402079460003"
    assert normalise_phone("020 7946 0003") == "02079460003"


def test_validation_keeps_the_number_as_written_or_says_what_a_number_looks_like() -> None:
    assert validate_phone(" +44 20 7946 0000 ") == "+44 20 7946 0000"
    with pytest.raises(ValidationError, match="in international format, like"):
        validate_phone("020 7946 0000", international=True)
    with pytest.raises(ValidationError, match=r"Enter a phone number, like \+44 20 7946 0000\."):
        validate_phone("call Bob")
