"""firewall_lockdown through a stand-in ufw: a real executable that records every argument list
and keeps the firewall's state (on/off, default incoming policy, rules) in a file."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from apps.remediation import catalog, services
from apps.remediation.models import ActionRun
from tests.remediation.conftest import execute, log_text, request_run

pytestmark = pytest.mark.django_db
State = ActionRun.State
TRUSTED = "203.0.113.7"

STANDIN = """#!{python}
import json, sys
from pathlib import Path

folder = Path({folder!r})
args = sys.argv[1:]
with (folder / "argv.jsonl").open("a") as calls:
    calls.write(json.dumps(args) + "\\n")
state = json.loads((folder / "state.json").read_text())
rule = ["from", "?", "to", "any", "port", "22", "proto", "tcp"]
if args == ["status", "verbose"]:
    if not state["active"]:
        print("Status: inactive")
    else:
        print("Status: active\\nLogging: on (low)")
        print(f"Default: {{state['default']}} (incoming), allow (outgoing), disabled (routed)")
        print("New profiles: skip\\n\\nTo                         Action      From")
        print("--                         ------      ----")
        for address in state["rules"]:
            print(f"22/tcp                     ALLOW IN    {{address}}")
elif len(args) == 3 and args[0] == "default" and args[2] == "incoming" and args[1] in ("allow", "deny", "reject"):
    state["default"] = args[1]
    print(f"Default incoming policy changed to '{{args[1]}}'")
elif args[:1] == ["allow"] and len(args) == 9 and args[3:] == rule[2:]:
    state["rules"].append(args[2])
    print("Rule added")
elif args[:2] == ["delete", "allow"] and len(args) == 10 and args[4:] == rule[2:]:
    state["rules"].remove(args[3])
    print("Rule deleted")
elif args == ["--force", "enable"]:
    state["active"] = True
    print("Firewall is active and enabled on system startup")
elif args == ["disable"]:
    state["active"] = False
    print("Firewall stopped and disabled on system startup")
else:
    print("ERROR: Invalid syntax", args, file=sys.stderr)
    sys.exit(1)
(folder / "state.json").write_text(json.dumps(state))
"""


class Ufw:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.program = folder / "ufw"

    @property
    def calls(self) -> list[list[str]]:
        path = self.folder / "argv.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    @property
    def state(self) -> dict[str, Any]:
        return json.loads((self.folder / "state.json").read_text())  # type: ignore[no-any-return]

    def set(self, **state: Any) -> None:
        (self.folder / "state.json").write_text(json.dumps({"active": True, "default": "allow", "rules": [], **state}))


@pytest.fixture
def ufw(tmp_path: Path) -> Iterator[Ufw]:
    folder = tmp_path / "ufw"
    folder.mkdir()
    stand_in = Ufw(folder)
    stand_in.program.write_text(STANDIN.format(python=sys.executable, folder=str(folder)))
    stand_in.program.chmod(0o755)
    stand_in.set()
    with override_settings(FIREWALL_BIN=str(stand_in.program), FIREWALL_APPLY=False):
        yield stand_in


@pytest.fixture
def applied(ufw: Ufw) -> Iterator[Ufw]:
    with override_settings(FIREWALL_APPLY=True):
        yield ufw


def firewall(user: Any, host: Any, params: dict[str, Any], **options: Any) -> ActionRun:
    options.setdefault("break_glass_reason", "the breach is ongoing")
    return execute(request_run(user, "firewall_lockdown", params, host=host, **options))


def rule(address: str) -> list[str]:
    return ["from", address, "to", "any", "port", "22", "proto", "tcp"]


def test_without_firewall_apply_it_only_shows_the_commands(responder, local_host, ufw):
    run = firewall(responder, local_host, {"mode": "lock", "trusted_address": TRUSTED})

    assert run.state == State.SUCCEEDED
    assert not run.verified
    assert ufw.calls == []  # nothing ran, not even the status
    log = log_text(run)
    assert "FIREWALL_APPLY is off" in log
    assert "FIREWALL_APPLY is off" in run.summary
    assert f"would run: {ufw.program} default deny incoming" in log
    assert f"would run: {ufw.program} allow from {TRUSTED} to any port 22 proto tcp" in log
    assert f"would run: {ufw.program} --force enable" in log
    assert run.result["applied"] is False
    assert catalog.get("firewall_lockdown").undo(run.params, run.result) is None  # nothing to revert


def test_with_firewall_apply_it_locks_down_in_order_and_reads_it_back(responder, local_host, applied):
    run = firewall(responder, local_host, {"mode": "lock", "trusted_address": TRUSTED})

    assert run.state == State.SUCCEEDED, log_text(run)

    assert run.verified
    assert applied.calls == [
        ["status", "verbose"],
        ["default", "deny", "incoming"],
        ["allow", *rule(TRUSTED)],
        ["--force", "enable"],
        ["status", "verbose"],
    ]
    assert applied.state == {"active": True, "default": "deny", "rules": [TRUSTED]}
    assert run.result["previous_policy"] == "allow"
    assert run.result["policy"] == "deny"


def test_the_undo_unlocks_with_the_same_address_and_the_previous_policy(responder, local_host, applied):
    applied.set(default="reject")
    lock = firewall(responder, local_host, {"mode": "lock", "trusted_address": TRUSTED})
    _action, params = catalog.get("firewall_lockdown").undo(lock.params, lock.result)  # type: ignore[misc]
    assert params == {"mode": "unlock", "trusted_address": TRUSTED, "previous_policy": "reject", "previous_state": ""}

    unlock = firewall(responder, local_host, params)

    assert unlock.state == State.SUCCEEDED, log_text(unlock)

    assert unlock.verified
    assert applied.calls[5:] == [
        ["status", "verbose"],
        ["delete", "allow", *rule(TRUSTED)],
        ["default", "reject", "incoming"],
        ["status", "verbose"],
    ]
    assert applied.state == {"active": True, "default": "reject", "rules": []}


def test_the_revert_timer_unlocks_by_itself(responder, local_host, applied):
    lock = firewall(responder, local_host, {"mode": "lock", "trusted_address": TRUSTED}, revert_minutes=10)
    assert lock.revert_due_at is not None

    assert services.run_revert_due(run_id=lock.pk)
    revert = execute(ActionRun.objects.get(undoes=lock))

    assert revert.state == State.SUCCEEDED, log_text(revert)

    assert revert.verified
    assert applied.state == {"active": True, "default": "allow", "rules": []}


def test_a_firewall_that_was_off_is_turned_off_again_by_the_undo(responder, local_host, applied):
    applied.set(active=False)
    lock = firewall(responder, local_host, {"mode": "lock", "trusted_address": TRUSTED})
    assert lock.verified
    assert lock.result["previous_state"] == "inactive"
    assert lock.result["previous_policy"] is None
    _action, params = catalog.get("firewall_lockdown").undo(lock.params, lock.result)  # type: ignore[misc]

    unlock = firewall(responder, local_host, params)

    assert unlock.state == State.SUCCEEDED, log_text(unlock)

    assert unlock.verified
    assert applied.calls[-2:] == [["disable"], ["status", "verbose"]]
    assert applied.state["active"] is False


def test_a_lockdown_the_firewall_does_not_show_is_not_verified(responder, local_host, applied, ufw):
    # A ufw that accepts the commands but keeps allowing (e.g. another tool rewrites the rules).
    ufw.program.write_text(ufw.program.read_text().replace('state["default"] = args[1]', "pass"))
    run = firewall(responder, local_host, {"mode": "lock", "trusted_address": TRUSTED})
    assert run.state == State.SUCCEEDED
    assert not run.verified
    assert "not as expected" in run.summary


def test_dry_run_with_firewall_apply_reads_the_status_and_changes_nothing(responder, local_host, applied):
    run = firewall(responder, local_host, {"mode": "lock", "trusted_address": TRUSTED}, dry_run=True)
    assert run.state == State.SUCCEEDED, log_text(run)
    assert not run.verified
    assert applied.calls == [["status", "verbose"]]
    assert f"would run: {applied.program} default deny incoming" in log_text(run)
    assert applied.state == {"active": True, "default": "allow", "rules": []}


@pytest.mark.parametrize(
    "address",
    ["203.0.113.7; reboot", "203.0.113.7 -H", "999.1.1.1", "203.0.113.0/24", "0.0.0.0", "::", "224.0.0.1",  # noqa: S104 (refused, never bound)
     "localhost", "$(id)", "", "203.0.113.7\nreboot", "203.0.113.7\x00"],
)  # fmt: skip
def test_an_invalid_trusted_address_is_refused(local_host, address):
    form = catalog.get("firewall_lockdown").Params(data={"mode": "lock", "trusted_address": address}, host=local_host)
    assert not form.is_valid()
    assert "trusted_address" in form.errors


@pytest.mark.parametrize("address", ["203.0.113.7; reboot", "999.1.1.1", "--force"])
def test_the_worker_refuses_an_address_forged_into_the_run(local_host, applied, address):
    run = ActionRun.objects.create(
        action="firewall_lockdown", host=local_host, params={"mode": "lock", "trusted_address": address},
        state=State.QUEUED,
    )  # fmt: skip
    run = execute(run)
    assert run.state == State.FAILED
    assert run.summary.startswith("Parameters refused by the worker: trusted_address:")
    assert applied.calls == []


def test_a_forged_policy_is_refused(local_host, applied):
    run = ActionRun.objects.create(
        action="firewall_lockdown", host=local_host, state=State.QUEUED,
        params={"mode": "unlock", "trusted_address": TRUSTED, "previous_policy": "allow incoming; ufw disable"},
    )  # fmt: skip
    assert execute(run).state == State.FAILED
    assert applied.calls == []


def test_it_is_dangerous_with_a_revert_timer_and_describes_itself():
    action = catalog.get("firewall_lockdown")
    assert action.dangerous
    assert action.revert_timer
    assert action.describe({"mode": "lock", "trusted_address": TRUSTED}) == (
        f"Firewall lockdown: deny incoming except SSH from {TRUSTED}"
    )
