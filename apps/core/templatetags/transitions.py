from typing import Any

from django import template

register = template.Library()


@register.filter(name="can_become")
def can_become(obj: Any, target: str) -> bool:
    """`{% if run|can_become:"cancelled" %}`: asks the model's transition table, the same one its
    services guard with (`apps.core.transitions`)."""
    table = type(obj).TRANSITIONS
    return bool(table.can(getattr(obj, table.field), target))
