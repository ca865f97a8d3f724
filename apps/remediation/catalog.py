"""The action catalog: one module per action under `actions/`, each a subclass of
`RemediationAction` registered here by its key. No plugin framework: the registry is a dict
filled when `apps.remediation.actions` is imported (in `AppConfig.ready`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms

from apps.accounts.permissions import can_work_incidents

if TYPE_CHECKING:
    from apps.health.models import Host
    from apps.remediation.context import RunContext


class ActionError(Exception):
    """The action failed. The message says what went wrong and what, if anything, it changed."""


class ActionParams(forms.Form):
    """An action's typed parameters. Validated on the web side when a run is requested and again
    on the worker, from the stored values, before anything runs. `host` is the host it will run
    on (for choices that depend on it, such as its backups or its services)."""

    def __init__(self, *args: Any, host: Host | None = None, **kwargs: Any) -> None:
        self.host = host
        super().__init__(*args, **kwargs)
        for form_field in self.fields.values():
            bind = getattr(form_field, "bind_host", None)
            if bind is not None:
                bind(host)

    def stored(self) -> dict[str, Any]:
        """The cleaned values as stored on the run (JSON): what the worker re-validates. A choice of
        "latest" is stored as the file it means now."""
        stored = {}
        for name, value in self.cleaned_data.items():
            resolve = getattr(self.fields[name], "resolve", None)
            stored[name] = _storable(resolve(value) if resolve is not None and isinstance(value, str) else value)
        return stored


def _storable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@dataclass
class Outcome:
    """What a successful run reports. `verified` says the action's own check passed (the rows
    read back, the page served, the files matching): only then does it tick its runbook step."""

    summary: str
    verified: bool = False
    result: dict[str, Any] = field(default_factory=dict)


class RemediationAction:
    key: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[ActionParams]] = ActionParams
    dangerous: ClassVar[bool] = False
    # False for actions that only read (no dry run needed, no undo).
    changes_state: ClassVar[bool] = True
    # Whether a revert timer can be set: the undo runs by itself unless someone confirms.
    revert_timer: ClassVar[bool] = False
    timeout_seconds: ClassVar[int] = 300
    # What the incident's page shows about the verification the action does.
    verification: ClassVar[str] = ""

    def permission(self, user: Any) -> bool:
        """Who may request it (the web side) — responders and admins unless an action says otherwise."""
        return can_work_incidents(user)

    def host_problem(self, host: Host) -> str:
        """Why this action cannot run on `host` ("" when it can): the hosts it may run on."""
        return ""

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    def describe(self, params: dict[str, Any]) -> str:
        """One line for the timeline and lists: what this run does."""
        return self.title

    def undo(self, params: dict[str, Any], result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """The action and parameters that revert a successful run, or None when there is none."""
        return None

    def undo_note(self) -> str:
        """Said where the undo would be when there is none."""
        return "This action has no undo."


_registry: dict[str, RemediationAction] = {}


def register(cls: type[RemediationAction]) -> type[RemediationAction]:
    _registry[cls.key] = cls()
    return cls


def get(key: str) -> RemediationAction:
    """The action registered as `key`; KeyError for anything else (forged or stale keys)."""
    return _registry[key]


def all_actions() -> list[RemediationAction]:
    return sorted(_registry.values(), key=lambda action: action.title)


def choices() -> list[tuple[str, str]]:
    return [(action.key, action.title) for action in all_actions()]
