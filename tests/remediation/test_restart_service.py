"""restart_service through a stand-in service manager: a real executable that plays systemctl or
pm2, records every argument list it is given and keeps the services' states in a file."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from apps.remediation import catalog
from apps.remediation.models import ActionRun
from tests.remediation.conftest import execute, log_text, request_run

pytestmark = pytest.mark.django_db
State = ActionRun.State

STANDIN = """#!{python}
import json, sys
from pathlib import Path

folder = Path({folder!r})
args = sys.argv[1:]
with (folder / "argv.jsonl").open("a") as calls:
    calls.write(json.dumps(args) + "\\n")
states = json.loads((folder / "states.json").read_text())
pm2 = (folder / "pm2").exists()
if args[:1] == ["is-active"] and not pm2:
    state = states.get(args[1], "inactive")
    print(state)
    sys.exit(0 if state == "active" else 3)
if args == ["jlist"] and pm2:
    print(">>>> In-memory PM2 is out-of-date, do: pm2 update")
    print(json.dumps([{{"name": name, "pm2_env": {{"status": state, "DATABASE_PASSWORD": "hunter2"}}}}
                      for name, state in states.items()]))
    sys.exit(0)
if args[:1] == ["restart"] and len(args) == 2:
    if args[1] not in states:
        print(f"Unit {{args[1]}} not found.", file=sys.stderr)
        sys.exit(5)
    print(f"restarting {{args[1]}}")
    broken = (folder / "broken").exists()
    states[args[1]] = "failed" if broken else ("online" if pm2 else "active")
    (folder / "states.json").write_text(json.dumps(states))
    sys.exit(0)
print("stand-in: unexpected arguments", args, file=sys.stderr)
sys.exit(64)
"""


class Manager:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.program = folder / "servicectl"

    def set(self, **states: str) -> None:
        (self.folder / "states.json").write_text(json.dumps({k.replace("_", "-"): v for k, v in states.items()}))

    @property
    def calls(self) -> list[list[str]]:
        path = self.folder / "argv.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    @property
    def restarts(self) -> list[list[str]]:
        return [call for call in self.calls if call[:1] == ["restart"]]

    def states(self) -> dict[str, str]:
        return json.loads((self.folder / "states.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def make_manager(tmp_path: Path) -> Callable[[str], Manager]:
    def make(kind: str) -> Manager:
        folder = tmp_path / "servicectl"
        folder.mkdir()
        manager = Manager(folder)
        manager.program.write_text(STANDIN.format(python=sys.executable, folder=str(folder)))
        manager.program.chmod(0o755)
        if kind == "pm2":
            (folder / "pm2").touch()
        manager.set(mvono_app="inactive", nginx="active")
        return manager

    return make


@pytest.fixture
def systemctl(make_manager: Callable[[str], Manager]) -> Iterator[Manager]:
    manager = make_manager("systemctl")
    with override_settings(SERVICE_MANAGER="systemctl", SERVICE_MANAGER_BIN=str(manager.program)):
        yield manager


@pytest.fixture
def pm2(make_manager: Callable[[str], Manager]) -> Iterator[Manager]:
    manager = make_manager("pm2")
    manager.set(mvono_app="stopped")
    with override_settings(SERVICE_MANAGER="pm2", SERVICE_MANAGER_BIN=str(manager.program)):
        yield manager


def test_systemctl_restart_reports_the_state_before_and_after(responder, local_host, systemctl):
    run = execute(request_run(responder, "restart_service", {"service": "mvono-app"}, host=local_host))

    assert run.state == State.SUCCEEDED, log_text(run)

    assert run.verified
    assert run.result == {"service": "mvono-app", "manager": "systemctl", "before": "inactive", "after": "active"}
    assert systemctl.restarts == [["restart", "mvono-app"]]
    assert systemctl.calls == [["is-active", "mvono-app"], ["restart", "mvono-app"], ["is-active", "mvono-app"]]
    assert run.summary == "Restarted mvono-app: inactive → active"


def test_pm2_restart_reads_the_state_from_jlist_without_logging_it(responder, local_host, pm2):
    run = execute(request_run(responder, "restart_service", {"service": "mvono-app"}, host=local_host))

    assert run.state == State.SUCCEEDED, log_text(run)

    assert run.verified
    assert (run.result["before"], run.result["after"]) == ("stopped", "online")
    assert pm2.calls == [["jlist"], ["restart", "mvono-app"], ["jlist"]]
    assert "hunter2" not in log_text(run)  # pm2's list carries every process's environment


def test_a_service_that_does_not_come_back_is_not_verified(responder, local_host, systemctl):
    (systemctl.folder / "broken").touch()
    run = execute(request_run(responder, "restart_service", {"service": "nginx"}, host=local_host))
    assert run.state == State.SUCCEEDED
    assert not run.verified
    assert (run.result["before"], run.result["after"]) == ("active", "failed")
    assert "(not active)" in run.summary


def test_a_failing_restart_fails_the_run(responder, local_host, systemctl):
    systemctl.set(nginx="active")  # mvono-app is unknown to the manager now
    run = execute(request_run(responder, "restart_service", {"service": "mvono-app"}, host=local_host))
    assert run.state == State.FAILED
    assert "exit status 5" in run.summary
    assert "Unit mvono-app not found." in log_text(run)


def test_dry_run_reads_the_state_and_only_shows_the_restart(responder, local_host, systemctl):
    run = execute(request_run(responder, "restart_service", {"service": "mvono-app"}, host=local_host, dry_run=True))
    assert run.state == State.SUCCEEDED
    assert not run.verified
    assert systemctl.calls == [["is-active", "mvono-app"]]
    assert f"would run: {systemctl.program} restart mvono-app" in log_text(run)
    assert systemctl.states()["mvono-app"] == "inactive"


@pytest.mark.parametrize("name", ["postgresql", "nginx; reboot", "mvono-app nginx", "-Hevil", "", "../nginx"])
def test_the_form_offers_only_the_hosts_services(local_host, name):
    form = catalog.get("restart_service").Params(data={"service": name}, host=local_host)
    assert not form.is_valid()
    assert "service" in form.errors
    assert [value for value, _ in form.fields["service"].choices] == ["mvono-app", "nginx"]  # type: ignore[attr-defined]


def test_names_a_command_must_not_receive_are_not_offered_even_if_configured(local_host):
    local_host.services = "mvono-app, -Hevil.example, bad name, nginx"
    local_host.save()
    form = catalog.get("restart_service").Params(host=local_host)
    assert [value for value, _ in form.fields["service"].choices] == ["mvono-app", "nginx"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["postgresql", "-Hevil.example", "nginx; reboot", "../../bin/sh"])
def test_the_worker_refuses_a_service_forged_into_the_run(local_host, systemctl, name):
    run = ActionRun.objects.create(
        action="restart_service", host=local_host, params={"service": name}, state=State.QUEUED
    )
    run = execute(run)
    assert run.state == State.FAILED
    assert run.summary.startswith("Parameters refused by the worker: service:")
    assert systemctl.calls == []  # not even a state read


def test_a_service_removed_from_the_list_after_the_request_is_refused(responder, local_host, systemctl):
    run = request_run(responder, "restart_service", {"service": "mvono-app"}, host=local_host)
    local_host.services = "nginx"
    local_host.save()
    run = execute(run)
    assert run.state == State.FAILED
    assert "Parameters refused by the worker" in run.summary
    assert systemctl.calls == []


def test_a_missing_service_manager_fails_saying_so(responder, local_host, tmp_path):
    with override_settings(SERVICE_MANAGER="systemctl", SERVICE_MANAGER_BIN=str(tmp_path / "no-such-systemctl")):
        run = execute(request_run(responder, "restart_service", {"service": "nginx"}, host=local_host))
    assert run.state == State.FAILED
    assert "is not installed on this host" in run.summary


def test_it_says_a_restart_has_no_undo():
    action = catalog.get("restart_service")
    assert action.undo({"service": "nginx"}, {}) is None
    assert action.undo_note() == "A restart has no undo."
    assert action.describe({"service": "nginx"}) == "Restart nginx"
    assert not action.dangerous
