"""`firewall_lockdown`: the seed's "Isolate Affected Systems":

    sudo ufw default deny incoming
    sudo ufw allow from [trusted-ip] to any port 22
    sudo ufw enable

Lock records `ufw status verbose` first (the default incoming policy becomes the undo's), then
runs those three; unlock deletes the rule and puts the previous default back. Argument lists
on FIREWALL_BIN, the address validated as an IP address. Unless FIREWALL_APPLY is set on the
host it only shows the commands (a wrong firewall rule can lock everyone out of a server), and
it is then not verified. Verified when applied by reading `ufw status verbose` back."""

from __future__ import annotations

import ipaddress
import re
import shlex
from typing import Any

from django import forms
from django.conf import settings

from apps.remediation.catalog import ActionParams, Outcome, RemediationAction, register
from apps.remediation.context import RunContext

POLICIES = [("allow", "allow"), ("deny", "deny"), ("reject", "reject")]
DEFAULT_INCOMING = re.compile(r"^Default:\s*(\w+)\s*\(incoming\)", re.MULTILINE)
STATUS = re.compile(r"^Status:\s*(\w+)", re.MULTILINE)


class Params(ActionParams):
    mode = forms.ChoiceField(choices=[("lock", "Lock down"), ("unlock", "Unlock")], initial="lock")
    trusted_address = forms.GenericIPAddressField(
        required=False, help_text="The address still allowed to reach SSH (port 22) while locked down."
    )
    previous_policy = forms.ChoiceField(
        choices=[("", "allow (the default)"), *POLICIES],
        required=False,
        help_text="Unlock: the default incoming policy to put back.",
    )
    previous_state = forms.ChoiceField(
        choices=[("", "leave ufw on"), ("inactive", "turn ufw off again")],
        required=False,
        help_text="Unlock: whether ufw was off before the lockdown.",
    )

    def clean_trusted_address(self) -> str:
        value = str(self.cleaned_data.get("trusted_address") or "")
        if value:
            address = ipaddress.ip_address(value)
            if address.is_unspecified or address.is_multicast:
                raise forms.ValidationError("Give the address of one trusted machine.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mode") == "lock" and not data.get("trusted_address") and "trusted_address" not in self.errors:
            self.add_error("trusted_address", "A lockdown needs the trusted address that keeps SSH access.")
        return data


def ssh_rule(address: str) -> list[str]:
    return ["from", address, "to", "any", "port", "22", "proto", "tcp"]


def parse_status(output: str) -> tuple[str, str | None]:
    """("active"|"inactive"|"unknown", the default incoming policy or None)."""
    status = STATUS.search(output)
    default = DEFAULT_INCOMING.search(output)
    return (status.group(1) if status else "unknown"), (default.group(1) if default else None)


@register
class FirewallLockdown(RemediationAction):
    key = "firewall_lockdown"
    title = "Firewall lockdown"
    description = (
        "Deny all incoming connections except SSH from one trusted address (ufw), or lift the lockdown. "
        "Only shows the commands unless FIREWALL_APPLY is set on the host."
    )
    Params = Params
    dangerous = True
    revert_timer = True
    timeout_seconds = 60
    verification = "`ufw status verbose` is read back and shows the new default incoming policy."

    def describe(self, params: dict[str, Any]) -> str:
        if params.get("mode") == "unlock":
            return f"Firewall unlock: incoming {params.get('previous_policy') or 'allow'} by default"
        return f"Firewall lockdown: deny incoming except SSH from {params.get('trusted_address')}"

    def undo(self, params: dict[str, Any], result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if params.get("mode") != "lock" or not result.get("applied"):
            return None
        return self.key, {
            "mode": "unlock",
            "trusted_address": params["trusted_address"],
            "previous_policy": result.get("previous_policy") or "allow",
            "previous_state": "inactive" if result.get("previous_state") == "inactive" else "",
        }

    def undo_note(self) -> str:
        return "Unlocking has no undo: lock down again if needed."

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        program = settings.FIREWALL_BIN
        address = str(params.get("trusted_address") or "")
        status = [program, "status", "verbose"]
        if params["mode"] == "lock":
            changes = [
                [program, "default", "deny", "incoming"],
                [program, "allow", *ssh_rule(address)],
                [program, "--force", "enable"],
            ]
            expected = "deny"
        else:
            expected = str(params.get("previous_policy") or "allow")
            changes = [[program, "delete", "allow", *ssh_rule(address)]] if address else []
            changes.append([program, "default", expected, "incoming"])
            if params.get("previous_state") == "inactive":
                changes.append([program, "disable"])
        if not settings.FIREWALL_APPLY:
            ctx.step("FIREWALL_APPLY is off on this host: nothing is run. The commands it would run:")
            for argv in [status, *changes, status]:
                ctx.log(f"would run: {shlex.join(argv)}", stream="dry")
            return Outcome(
                "FIREWALL_APPLY is off on this host: the commands were only shown, nothing was changed.",
                result={"applied": False, "commands": [shlex.join(argv) for argv in changes]},
            )
        ctx.step("The firewall before")
        previous_state, previous_policy = parse_status(ctx.command(status, changes_state=False).output)
        ctx.log(f"Before: {previous_state}, incoming {previous_policy or 'not shown'} by default.")
        ctx.step("Locking down" if params["mode"] == "lock" else "Lifting the lockdown")
        for argv in changes:
            ctx.command(argv)
        if ctx.dry_run:
            return Outcome(
                "Dry run: the firewall was read, nothing was changed.",
                result={"applied": False, "previous_policy": previous_policy, "previous_state": previous_state},
            )
        ctx.step("The firewall after")
        after = ctx.command(status, changes_state=False).output
        state, policy = parse_status(after)
        checks = [policy == expected if state == "active" else params.get("previous_state") == "inactive"]
        if params["mode"] == "lock":
            checks += [state == "active", _rule_shown(after, address)]
        verified = all(checks)
        ctx.log(
            f"After: {state}, incoming {policy or 'not shown'} by default." + ("" if verified else " Not as expected.")
        )
        done = "Locked down" if params["mode"] == "lock" else "Lockdown lifted"
        summary = f"{done}: ufw {state}, incoming {policy or 'not shown'} by default"
        return Outcome(
            summary + ("" if verified else " (not as expected)"),
            verified=verified,
            result={"applied": True, "previous_policy": previous_policy, "previous_state": previous_state,
                    "state": state, "policy": policy, "trusted_address": address},
        )  # fmt: skip


def _rule_shown(status: str, address: str) -> bool:
    return any("22/tcp" in line and "ALLOW" in line and address in line.split() for line in status.splitlines())
