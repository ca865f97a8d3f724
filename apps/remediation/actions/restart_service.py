"""`restart_service`: the seed's `pm2 restart mvono-app` and `sudo systemctl restart postgresql`.

Only a service in the host's allow-list (Host.services, the services its health probe watches)
can be chosen, and the worker checks the name again against that list and the probe's name
pattern before any command. Runs through the host's service manager (SERVICE_MANAGER, the
program SERVICE_MANAGER_BIN) as argument lists; reports the state before and after. Verified when
the service is active (systemd) or online (pm2) afterwards."""

from __future__ import annotations

import json
import time
from typing import Any, cast

from django import forms
from django.conf import settings

from apps.health.probes.service_units import SERVICE_NAME
from apps.remediation.catalog import ActionError, ActionParams, Outcome, RemediationAction, register
from apps.remediation.context import RunContext

RUNNING = {"systemctl": "active", "pm2": "online"}
# States a service passes through on its way up: read again for a while before judging.
TRANSITIONAL = {"activating", "deactivating", "reloading", "launching", "stopping", "waiting restart"}
SETTLE_SECONDS = 15


def allowed_services(host: Any) -> list[str]:
    """The host's allow-list, keeping only names a command may safely receive."""
    names = host.service_names if host is not None else []
    return [name for name in names if SERVICE_NAME.match(name) and not name.startswith("-")]


class Params(ActionParams):
    service = forms.ChoiceField(choices=[], help_text="One of the services this host's health probe watches.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["service"])
        field.choices = [(name, name) for name in allowed_services(self.host)]

    def clean_service(self) -> str:
        name = str(self.cleaned_data["service"])
        if name not in allowed_services(self.host):
            raise forms.ValidationError("That service is not in this host's list of services.")
        return name


def _pm2_state(output: str, name: str) -> str:
    # pm2 may print warnings around the JSON: take the line that holds the list.
    for line in [output, *output.splitlines()]:
        text = line.strip()
        if text.startswith("["):
            try:
                processes = json.loads(text)
            except json.JSONDecodeError:
                continue
            for process in processes:
                if isinstance(process, dict) and process.get("name") == name:
                    return str((process.get("pm2_env") or {}).get("status", "unknown"))
            return "not found"
    return "unknown"


@register
class RestartService(RemediationAction):
    key = "restart_service"
    title = "Restart a service"
    description = (
        "Restart one of the host's watched services through its service manager (systemctl or pm2) "
        "and report its state before and after."
    )
    Params = Params
    timeout_seconds = 120
    verification = "The service manager reports the service active (systemd) or online (pm2) after the restart."

    def describe(self, params: dict[str, Any]) -> str:
        return f"Restart {params.get('service', '?')}"

    def host_problem(self, host: Any) -> str:
        if not allowed_services(host):
            return f"{host.name} has no services to restart: an admin lists them on the host (its watched services)."
        return ""

    def undo_note(self) -> str:
        return "A restart has no undo."

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        name = str(params["service"])
        if name not in allowed_services(ctx.host):  # the form checked it; a command gets nothing else
            raise ActionError(f"{name!r} is not in this host's list of services: nothing was run.")
        manager, program = settings.SERVICE_MANAGER, settings.SERVICE_MANAGER_BIN
        ctx.step(f"State of {name} before ({manager})")
        before = self._state(ctx, manager, program, name)
        ctx.log(f"Before: {before}")
        ctx.step(f"Restarting {name}")
        result = ctx.command([program, "restart", name], timeout=self.timeout_seconds - 20)
        if result.dry:
            return Outcome(
                f"Dry run: {name} ({before}) would be restarted.", result={"service": name, "before": before}
            )
        after = self._settled_state(ctx, manager, program, name)
        ctx.log(f"After: {after}")
        verified = after == RUNNING[manager]
        return Outcome(
            f"Restarted {name}: {before} → {after}" + ("" if verified else f" (not {RUNNING[manager]})"),
            verified=verified,
            result={"service": name, "manager": manager, "before": before, "after": after},
        )

    def _state(self, ctx: RunContext, manager: str, program: str, name: str) -> str:
        if manager == "pm2":
            # Quiet: pm2's list holds every process's environment, secrets included.
            listing = ctx.command([program, "jlist"], changes_state=False, check=False, quiet=True, timeout=15)
            return _pm2_state(listing.output, name)
        answer = ctx.command([program, "is-active", name], changes_state=False, check=False, timeout=15)
        return (answer.lines[0].strip() if answer.lines else "") or "unknown"

    def _settled_state(self, ctx: RunContext, manager: str, program: str, name: str) -> str:
        until = time.monotonic() + SETTLE_SECONDS
        state = self._state(ctx, manager, program, name)
        while state in TRANSITIONAL and time.monotonic() < until:
            time.sleep(1)
            state = self._state(ctx, manager, program, name)
        return state
