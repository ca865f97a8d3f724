"""`maintenance_mode`: the seed's `toggle-maintenance-mode.sh on "…"` / `off`.

On writes a static maintenance page and then a flag file under MAINTENANCE_DIR; nginx serves that
page while the flag exists (deploy/nginx-maintenance.conf). Off removes the flag. Verified by
reading both back, and, where MAINTENANCE_CHECK_URL is set, by fetching the site and finding the
page's message there (on) or not there (off)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.template.loader import render_to_string

from apps.core import outbound
from apps.remediation.catalog import ActionError, ActionParams, Outcome, RemediationAction, register
from apps.remediation.context import RunContext
from apps.remediation.params import MessageField

PAGE = "maintenance.html"
FLAG = "maintenance.flag"


class Params(ActionParams):
    mode = forms.ChoiceField(choices=[("on", "On"), ("off", "Off")], initial="on")
    message = MessageField(
        required=False,
        initial="Emergency maintenance in progress. Please check back shortly.",
        help_text="Shown to visitors while maintenance mode is on.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mode") == "on" and not (data.get("message") or "").strip():
            self.add_error("message", "Write the message visitors will see.")
        if data.get("mode") == "off":
            data["message"] = ""
        return data


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def _fetch(url: str) -> tuple[int, str]:
    # MAINTENANCE_CHECK_URL is this host's own setting, usually the site behind nginx on this
    # machine or its private network: private addresses are allowed. Failures are OSErrors.
    response = outbound.request(
        "GET",
        url,
        headers={"User-Agent": "IncidentCenter/maintenance-check"},
        timeout=10,
        max_bytes=200_000,
        allow_private=True,
        max_redirects=5,
    )
    return response.status, response.text()


@register
class MaintenanceMode(RemediationAction):
    key = "maintenance_mode"
    title = "Maintenance mode"
    description = (
        "Turn the site's maintenance page on (with a message) or off. nginx serves the page from "
        "MAINTENANCE_DIR while the flag file exists."
    )
    Params = Params
    revert_timer = True
    timeout_seconds = 60
    verification = "The page and flag are read back, and the site is fetched where a check URL is configured."

    def describe(self, params: dict[str, Any]) -> str:
        if params.get("mode") == "off":
            return "Maintenance mode off"
        return f"Maintenance mode on: “{params.get('message', '')}”"

    def undo(self, params: dict[str, Any], result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if params.get("mode") == "on":
            return self.key, {"mode": "off", "message": ""}
        previous = result.get("previous_message") or ""
        return (self.key, {"mode": "on", "message": previous}) if previous else None

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        folder = Path(settings.MAINTENANCE_DIR)
        page, flag = folder / PAGE, folder / FLAG
        previous = _flag_message(flag)
        if params["mode"] == "on":
            return self._on(ctx, folder, page, flag, params["message"], previous)
        return self._off(ctx, flag, previous)

    def _on(self, ctx: RunContext, folder: Path, page: Path, flag: Path, message: str, previous: str) -> Outcome:
        since = datetime.now(UTC)
        html = render_to_string("remediation/maintenance_page.html", {"message": message, "since": since})
        ctx.step(f"Writing the maintenance page {page}")
        if ctx.would(f"write {page} ({len(html)} bytes) and the flag {flag}"):
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(page, html)
            by = ctx.requested_by.display_name if ctx.requested_by else "Incident Center"
            _write_atomically(
                flag, json.dumps({"message": message, "since": since.isoformat(), "by": by, "run": ctx.run_id})
            )
            ctx.log(f"Flag written: {flag}")
        else:
            return Outcome(
                "Dry run: the page and flag would be written.", result={"would_write": [str(page), str(flag)]}
            )
        checks = [page.read_text(encoding="utf-8") == html, flag.exists()]
        ctx.log(
            f"Read back: page {'matches' if checks[0] else 'DIFFERS'}, flag {'present' if checks[1] else 'MISSING'}"
        )
        served = self._check_url(ctx, message, expect_on=True)
        if served is not None:
            checks.append(served)
        verified = all(checks)
        return Outcome(
            "Maintenance mode is on" + ("" if verified else " (but its check did not pass: see the log)"),
            verified=verified,
            result={
                "mode": "on",
                "message": message,
                "since": since.isoformat(),
                "previous_message": previous,
                "served": served,
            },
        )

    def _off(self, ctx: RunContext, flag: Path, previous: str) -> Outcome:
        ctx.step(f"Removing the flag {flag}")
        if not flag.exists():
            ctx.log("Maintenance mode was already off.")
        elif ctx.would(f"remove {flag}"):
            flag.unlink()
        else:
            return Outcome("Dry run: the flag would be removed.", result={"would_remove": [str(flag)]})
        checks = [not flag.exists()]
        served = self._check_url(ctx, previous, expect_on=False) if previous else None
        if served is not None:
            checks.append(served)
        verified = all(checks)
        return Outcome(
            "Maintenance mode is off" + ("" if verified else " (but its check did not pass: see the log)"),
            verified=verified,
            result={"mode": "off", "previous_message": previous, "served": served},
        )

    def _check_url(self, ctx: RunContext, message: str, *, expect_on: bool) -> bool | None:
        url = settings.MAINTENANCE_CHECK_URL
        if not url:
            ctx.log("No MAINTENANCE_CHECK_URL on this host: the page was checked on disk only.")
            return None
        try:
            status, body = _fetch(url)
        except OSError as error:
            raise ActionError(
                f"The flag is {'set' if expect_on else 'removed'}, but {url} could not be fetched: {error}"
            ) from error
        from django.utils.html import escape

        shown = bool(message) and escape(message) in body
        ctx.log(f"GET {url}: HTTP {status}, maintenance message {'shown' if shown else 'not shown'}")
        return shown if expect_on else not shown


def _flag_message(flag: Path) -> str:
    try:
        return str(json.loads(flag.read_text(encoding="utf-8")).get("message", ""))
    except (OSError, ValueError):
        return ""
