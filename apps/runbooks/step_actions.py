"""The remediation actions a runbook step (and the checklist item copied from it) can name.

The action catalog is defined once, in `apps.remediation.catalog`. Runbooks sit below remediation
and never import it: remediation hands its catalog to this registry in its `AppConfig.ready()`,
and a step's `action` field takes `choices` as this callable, read when a form or a validation
needs them (Django calls callable choices lazily; migrations record only the function's name).
"""

from __future__ import annotations

from collections.abc import Callable

Choices = list[tuple[str, str]]

_catalog: list[Callable[[], Choices]] = []


def use_catalog(source: Callable[[], Choices]) -> None:
    """Called once by remediation's `ready()`: `source()` lists (key, title) of every action."""
    _catalog[:] = [source]


def choices() -> Choices:
    """(key, title) of every action a step can run; empty until remediation is ready."""
    return _catalog[0]() if _catalog else []
