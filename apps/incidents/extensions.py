"""How other apps add to the board and the incident page without `incidents` importing them.

Apps depend downward only: `paging`, `health`, `remediation` and `comms` know incidents, not the
other way round. They register here in their `AppConfig.ready()`:

- an *attention provider* answers, for the incidents on the board, what needs attention
  (e.g. "page not acknowledged"), in one batch so the board's query count stays fixed;
- a *board section* is a block on the board above the incidents (e.g. the hosts' health strip),
  with its own live updates;
- a *panel* is a section of the incident page: a template and a function giving its context.
  Panels are part of the page's live pieces: an app that changes what its panel shows calls
  `apps.incidents.live.announce_incident_changed(incident_id)` and every open page re-renders it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apps.incidents.models import Incident

AttentionProvider = Callable[[Sequence["Incident"]], dict[int, list[str]]]

_attention_providers: list[AttentionProvider] = []
_panels: list[Panel] = []
_board_sections: list[BoardSection] = []


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    context: Callable[[Incident, Any], dict[str, Any]]
    order: int = 100


@dataclass(frozen=True)
class BoardSection:
    key: str
    template: str
    context: Callable[[Any], dict[str, Any]]
    order: int = 100


def register_board_section(section: BoardSection) -> None:
    if all(existing.key != section.key for existing in _board_sections):
        _board_sections.append(section)
        _board_sections.sort(key=lambda s: s.order)


def board_sections_for(user: Any) -> list[RenderedPanel]:
    return [RenderedPanel(s.key, s.template, s.context(user)) for s in _board_sections]


def register_attention(provider: AttentionProvider) -> AttentionProvider:
    if provider not in _attention_providers:
        _attention_providers.append(provider)
    return provider


def register_panel(panel: Panel) -> None:
    if all(existing.key != panel.key for existing in _panels):
        _panels.append(panel)
        _panels.sort(key=lambda p: p.order)


def attention_for(incidents: Sequence[Incident]) -> dict[int, list[str]]:
    """Every provider's reasons, by incident id."""
    reasons: dict[int, list[str]] = {}
    if not incidents:
        return reasons
    for provider in _attention_providers:
        for incident_id, found in provider(incidents).items():
            reasons.setdefault(incident_id, []).extend(found)
    return reasons


@dataclass(frozen=True)
class RenderedPanel:
    key: str
    template: str
    context: dict[str, Any]


def panels_for(incident: Incident, user: Any) -> list[RenderedPanel]:
    return [RenderedPanel(p.key, p.template, p.context(incident, user)) for p in _panels]
