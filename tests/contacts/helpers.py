"""Reading the contact pages as a user does."""

from __future__ import annotations

import re

from apps.contacts.models import EscalationLevel


def table_row(html: str, text: str) -> str:
    """The one table row of the page that contains `text`."""
    rows = [row for row in re.findall(r"<tr[ >].*?</tr>", html, flags=re.S) if text in row]
    assert len(rows) == 1, f"{len(rows)} rows contain {text!r}"
    return str(rows[0])


def section(html: str, label: str) -> str:
    """The `<section aria-label="...">` of the page."""
    start = html.index(f'aria-label="{label}"')
    return html[start : html.index("</section>", start)]


def path_names() -> list[str]:
    return [level.role.name for level in EscalationLevel.objects.select_related("role").order_by("position")]


def path_positions() -> list[int]:
    return list(EscalationLevel.objects.order_by("position").values_list("position", flat=True))
