"""Starting Incident Center with production settings, in a fresh process as a server would: it
refuses to start without a SECRET_KEY or with a bad value, and passes Django's deployment checks
when configured."""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

SETUP = "import django; django.setup()"


def _production_env(**overrides: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"SECRET_KEY", "SECRET_KEY_FILE", "DEBUG", "ALLOWED_HOSTS"}
    }
    env.update({"DJANGO_SETTINGS_MODULE": "incidentcenter.settings", "DEBUG": "0"})
    env.update(overrides)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _secret_key() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(50))


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = _run(["-c", SETUP], _production_env())

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_starts_with_the_secret_key_in_a_file(tmp_path: Path) -> None:
    key = _secret_key()
    key_file = tmp_path / "secret_key"
    key_file.write_text(key + "\n")

    result = _run(
        ["-c", f"{SETUP}; from django.conf import settings; print(settings.SECRET_KEY == {key!r})"],
        _production_env(SECRET_KEY_FILE=str(key_file), ALLOWED_HOSTS="example.com"),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_a_bad_value_stops_startup_with_a_clear_message() -> None:
    result = _run(["-c", SETUP], _production_env(SECRET_KEY=_secret_key(), SESSION_COOKIE_AGE="12h"))

    assert result.returncode != 0
    assert "SESSION_COOKIE_AGE='12h' is not a whole number" in result.stderr


def test_deployment_checks_pass_when_configured_for_production() -> None:
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        _production_env(SECRET_KEY=_secret_key(), ALLOWED_HOSTS="example.com", EMAIL_HOST="smtp.example.com"),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "check_id"),
    [
        ({"SECRET_KEY": "too-short"}, "security.W009"),
        ({"SECURE_SSL_REDIRECT": "0"}, "security.W008"),
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        # Pages and mail would only be printed to the console.
        ({"EMAIL_HOST": ""}, "mail.E001"),
    ],
)
def test_deployment_checks_catch_a_weakened_setting(overrides: dict[str, str], check_id: str) -> None:
    env = _production_env(SECRET_KEY=_secret_key(), ALLOWED_HOSTS="example.com", EMAIL_HOST="smtp.example.com")
    env.update(overrides)

    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode != 0
    assert check_id in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SERVICE_MANAGER": "rc.d"}, "SERVICE_MANAGER='rc.d': use systemctl or pm2"),
        ({"PG_SCRATCH_PREFIX": "x; DROP"}, "PG_SCRATCH_PREFIX='x; DROP': lower-case letters"),
        ({"REMEDIATION_LOST_SECONDS": "1"}, "REMEDIATION_LOST_SECONDS"),
    ],
)
def test_a_bad_remediation_setting_stops_startup(overrides: dict[str, str], message: str) -> None:
    env = _production_env(SECRET_KEY=_secret_key(), ALLOWED_HOSTS="example.com", **overrides)
    result = _run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert message in result.stderr
