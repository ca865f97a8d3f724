"""One transition table per stateful model: the services guard with it, the templates ask it
which controls to show. No transition rule is written twice.

    class ActionRun(models.Model):
        class State(models.TextChoices): ...
        TRANSITIONS = Transitions({State.QUEUED: {State.RUNNING, State.CANCELLED}, ...})

    ActionRun.TRANSITIONS.check(run.state, State.CANCELLED)    # raises TransitionError
    {% if run|can_become:"cancelled" %}…{% endif %}            # in a template
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class TransitionError(Exception):
    """The move is not in the table; the message says from what to what, for the user."""


class Transitions:
    def __init__(
        self, table: Mapping[str, Iterable[str]], *, field: str = "state", labels: Mapping[str, str] | None = None
    ):
        self.table: dict[str, frozenset[str]] = {str(k): frozenset(str(t) for t in v) for k, v in table.items()}
        self.field = field
        self.labels = {str(k): str(v) for k, v in (labels or {}).items()}

    def allowed(self, current: str) -> frozenset[str]:
        """Where `current` may go next (nothing for an end state)."""
        return self.table.get(str(current), frozenset())

    def can(self, current: str, target: str) -> bool:
        return str(target) in self.allowed(current)

    def sources(self, target: str) -> list[str]:
        """The states that may become `target`: the condition of a conditional update that claims a
        row (`filter(state__in=T.sources(X)).update(state=X)`), so the table decides what is legal
        and the update decides who wins a race."""
        return sorted(state for state, targets in self.table.items() if str(target) in targets)

    def check(self, current: str, target: str) -> None:
        if not self.can(current, target):
            raise TransitionError(f"It is {self._label(current)}: it cannot become {self._label(target)}.")

    def is_final(self, current: str) -> bool:
        return not self.allowed(current)

    def _label(self, state: str) -> str:
        return self.labels.get(str(state), str(state)).lower()
