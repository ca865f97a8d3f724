"""Properties of every registered action's parameters (the catalog, so actions added later are
covered too): hostile text — shell metacharacters, "..", absolute paths, NUL and control
characters, option-like and very long strings — is refused by the form with an error on that
field, or, where a field takes free text (a maintenance message), accepted but never part of a
command. Refused text forged straight into a queued run is refused again by the worker, and
nothing runs: no command, no file."""

from __future__ import annotations

import json
import os
import string
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.health.models import Host
from apps.remediation import catalog
from apps.remediation.catalog import RemediationAction
from apps.remediation.models import ActionRun
from tests.remediation.conftest import execute, request_run

pytestmark = pytest.mark.django_db
State = ActionRun.State

METACHARACTERS = [";", "|", "&", "$", "`", ">", "<", "\n", "$(", "&&", "||", "'", '"', "\\", "*", "{", "}", "\t"]
PATHS = ["..", "../..", "../../etc/passwd", "/etc/passwd", "/", "/srv/pwn", "~root", "./x", "a/b"]
OPTIONS = ["-rf", "--help", "--output=/etc/passwd", "-Hevil.example", "--force"]
CONTROL = [chr(code) for code in (*range(0, 9), *range(11, 32), 127)]
PLAIN = string.ascii_letters + string.digits + "-_. "

plain = st.text(alphabet=PLAIN, max_size=20)
hostile = st.one_of(
    st.builds(lambda a, bad, b: a + bad + b, plain, st.sampled_from(METACHARACTERS + PATHS + CONTROL), plain),
    st.sampled_from(
        PATHS + OPTIONS + [f"{a}{b}" for a in ("latest", "nginx", "mvono-app") for b in (";id", "\n", "/..")]
    ),
    st.builds(lambda a, b: f"{a}$(touch /srv/pwned){b}", plain, plain),
    st.builds(lambda a, b: f"{a}`id`{b}", plain, plain),
    st.builds(lambda char, size: char * size, st.sampled_from("a-x;"), st.integers(min_value=501, max_value=20_000)),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp"]), min_size=1, max_size=10),
)
BOUNDED = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def text_fields() -> list[tuple[str, str]]:
    """(action, field) for every parameter that takes text, in every registered action."""
    pairs = []
    for action in catalog.all_actions():
        for name, field in action.Params(host=None).fields.items():
            if isinstance(field, (forms.CharField, forms.ChoiceField)):
                pairs.append((action.key, name))
    return pairs


def base_params(action: RemediationAction, host: Host) -> dict[str, Any]:
    """Valid values for every field (its initial value, or the first choice offered on `host`)."""
    form = action.Params(host=host)
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        initial = form.get_initial_for_field(field, name)
        if isinstance(field, forms.ChoiceField):
            offered = [str(value) for value, _label in field.choices if value not in ("", None)]
            data[name] = str(initial) if str(initial) in offered else (offered[0] if offered else "")
        elif isinstance(field, forms.GenericIPAddressField):
            data[name] = "192.0.2.10"
        elif isinstance(field, forms.CharField):
            data[name] = str(initial) if initial else "test"
        elif isinstance(field, forms.BooleanField):
            data[name] = bool(initial)
        elif initial is not None:
            data[name] = initial
    return data


def commands(run: ActionRun) -> list[str]:
    """Every command the run ran or showed it would run."""
    return [
        line
        for line in run.log_lines.values_list("text", flat=True)
        if line.startswith("$ ") or line.startswith("would run:")
    ]


def files(root: Path) -> set[str]:
    return {str(Path(folder, name)) for folder, dirs, names in os.walk(root) for name in [*dirs, *names]}


RECORDER = """#!{python}
import json, sys
with open({calls!r}, "a") as calls:
    calls.write(json.dumps(sys.argv) + "\\n")
print("active")
"""


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Path]:
    """Every program an action could run on this host is a stand-in that records its calls, and
    the firewall is live: anything that got through would show."""
    calls = tmp_path / "calls.jsonl"
    program = tmp_path / "bin" / "recorder"
    program.parent.mkdir()
    program.write_text(RECORDER.format(python=sys.executable, calls=str(calls)))
    program.chmod(0o755)
    with override_settings(
        SERVICE_MANAGER="systemctl", SERVICE_MANAGER_BIN=str(program), FIREWALL_BIN=str(program),
        FIREWALL_APPLY=True, PG_BIN_DIR=str(program.parent),
    ):  # fmt: skip
        yield calls


def test_every_action_is_covered_and_has_valid_base_values(local_host):
    keys = {action.key for action in catalog.all_actions()}
    assert {"snapshot_web_content", "verify_web_content", "restore_web_content", "capture_forensics",
            "restart_service", "firewall_lockdown", "maintenance_mode"} <= keys  # fmt: skip
    pairs = set(text_fields())
    assert {("maintenance_mode", "message"), ("restart_service", "service"), ("firewall_lockdown", "trusted_address"),
            ("snapshot_web_content", "label"), ("restore_web_content", "snapshot")} <= pairs  # fmt: skip
    for action in catalog.all_actions():
        form = action.Params(data=base_params(action, local_host), host=local_host)
        assert form.is_valid(), f"{action.key}: teach base_params a valid value: {form.errors}"


@pytest.mark.parametrize(("action_key", "field_name"), text_fields())
@BOUNDED
@given(value=hostile)
def test_hostile_text_is_refused_or_never_reaches_a_command(
    action_key, field_name, value, responder, local_host, recorder, tmp_path
):
    action = catalog.get(action_key)
    data = {**base_params(action, local_host), field_name: value}
    form = action.Params(data=data, host=local_host)
    before = files(tmp_path)

    if not form.is_valid() and field_name in form.errors:
        # Refused on the web side; forged into a queued run, the worker refuses it too.
        if "\x00" in value:
            return  # PostgreSQL cannot even store it in the run's parameters
        run = execute(ActionRun.objects.create(action=action_key, host=local_host, params=data, state=State.QUEUED))
        assert run.state == State.FAILED
        assert run.summary.startswith("Parameters refused by the worker"), run.summary
        assert f"{field_name}:" in run.summary
        assert commands(run) == []
        assert not recorder.exists()
        assert files(tmp_path) == before
        return

    # Accepted: only free text may be, and a dry run proves it never reaches a command.
    assert form.is_valid(), form.errors
    cleaned = str(form.cleaned_data[field_name])
    run = execute(
        request_run(responder, action_key, data, host=local_host, dry_run=True, break_glass_reason="property test")
    )
    for line in commands(run):
        assert value not in line, line
        assert not cleaned.strip() or cleaned not in line, line
    calls = [json.loads(line) for line in recorder.read_text().splitlines()] if recorder.exists() else []
    assert not any(cleaned.strip() and cleaned in arg for call in calls for arg in call)
