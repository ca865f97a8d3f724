from __future__ import annotations

from typing import Any

from django import forms


def set_choices(field: forms.Field, queryset: Any) -> None:
    """Give a model choice field a fresh queryset (evaluated per form, not at import)."""
    if not isinstance(field, forms.ModelChoiceField):
        raise TypeError(f"{field!r} is not a model choice field")
    field.queryset = queryset
