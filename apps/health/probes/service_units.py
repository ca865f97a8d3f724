"""Configured services, through the host's service manager (like `systemctl status`, `pm2 list`).

Argument lists only, never a shell; names come from the host's configuration and are checked
against a strict pattern before they reach a command.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

from apps.health.models import Host, Probe, State
from apps.health.probes import Reading

SERVICE_NAME = re.compile(r"^[A-Za-z0-9@._-]{1,100}$")
INVALID = "invalid name"
TIMEOUT_SECONDS = 5


def probe(host: Host) -> Reading:
    names = host.service_names
    if not names:
        return Reading(Probe.SERVICES, State.UNKNOWN, summary="no services configured")
    pm2 = _pm2_states()
    results = {name: _state(name, pm2) for name in names}
    invalid = [name for name, state in results.items() if state == INVALID]
    down = [name for name, state in results.items() if state not in ("active", "online", "unknown", INVALID)]
    unknown = [name for name, state in results.items() if state == "unknown"]
    if down:
        state, summary = State.CRITICAL, f"down: {', '.join(down)}"
    elif invalid:
        # A mistyped configuration is the probe's failure, not a service down (no outage signal).
        state, summary = State.ERROR, f"invalid name: {', '.join(invalid)}"
    elif unknown and len(unknown) == len(results):
        state, summary = State.UNKNOWN, "no service manager knows these services"
    else:
        state = State.OK
        summary = f"{len(results) - len(unknown)} running" + (f", {len(unknown)} unknown" if unknown else "")
    return Reading(Probe.SERVICES, state, float(len(down)), summary, {"services": results})


def _state(name: str, pm2: dict[str, str]) -> str:
    if not SERVICE_NAME.match(name):
        return INVALID
    if name in pm2:
        return pm2[name]
    systemctl = shutil.which("systemctl")
    if systemctl is None or not _systemd_running():
        return "unknown"
    result = subprocess.run(  # noqa: S603 - argument list, validated name
        [systemctl, "is-active", name], capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    state = result.stdout.strip() or "unknown"
    return "unknown" if state == "inactive" and "could not be found" in result.stderr else state


def _systemd_running() -> bool:
    import os

    return os.path.isdir("/run/systemd/system")


def _pm2_states() -> dict[str, str]:
    pm2 = shutil.which("pm2")
    if pm2 is None:
        return {}
    try:
        result = subprocess.run(  # noqa: S603 - fixed argument list
            [pm2, "jlist"], capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=True
        )
        processes = json.loads(result.stdout or "[]")
    except (subprocess.SubprocessError, json.JSONDecodeError, OSError):
        return {}
    return {str(p.get("name")): str(p.get("pm2_env", {}).get("status", "unknown")) for p in processes}
