"""The settings' environment helpers (`incidentcenter/env.py`): a bad value fails loudly with a
message naming the variable; a secret may come from the file named by `<NAME>_FILE`."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from incidentcenter.env import env_bool, env_int, env_list, env_path, env_str

VAR = "IC_TEST_SETTING"


@pytest.fixture(autouse=True)
def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    monkeypatch.delenv(f"{VAR}_FILE", raising=False)


# --- env_bool ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "true", "True", "YES", "on", " on "])
def test_env_bool_reads_true(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(VAR, raw)

    assert env_bool(VAR) is True


@pytest.mark.parametrize("raw", ["0", "false", "FALSE", "no", "off", ""])
def test_env_bool_reads_false(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(VAR, raw)

    assert env_bool(VAR, default=True) is False


def test_env_bool_uses_the_default_when_unset() -> None:
    assert env_bool(VAR) is False
    assert env_bool(VAR, default=True) is True


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled"])
def test_env_bool_refuses_anything_else(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(VAR, raw)

    with pytest.raises(ImproperlyConfigured) as caught:
        env_bool(VAR)

    assert str(caught.value) == f"{VAR}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)"


# --- env_int -----------------------------------------------------------------------------------


def test_env_int_reads_a_whole_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, " 42 ")

    assert env_int(VAR, 7) == 42


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_env_int_uses_the_default_when_unset_or_blank(monkeypatch: pytest.MonkeyPatch, raw: str | None) -> None:
    if raw is not None:
        monkeypatch.setenv(VAR, raw)

    assert env_int(VAR, 7) == 7


@pytest.mark.parametrize("raw", ["ten", "1.5", "0x10", "5s"])
def test_env_int_refuses_what_is_not_a_whole_number(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(VAR, raw)

    with pytest.raises(ImproperlyConfigured) as caught:
        env_int(VAR, 7)

    assert str(caught.value) == f"{VAR}={raw!r} is not a whole number"


def test_env_int_refuses_a_value_below_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, "0")

    with pytest.raises(ImproperlyConfigured) as caught:
        env_int(VAR, 10, minimum=1)

    assert str(caught.value) == f"{VAR}=0 must be at least 1"


def test_env_int_accepts_the_minimum_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, "1")

    assert env_int(VAR, 10, minimum=1) == 1


# --- env_list ----------------------------------------------------------------------------------


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, " example.com, www.example.com,,  ")

    assert env_list(VAR) == ["example.com", "www.example.com"]


def test_env_list_uses_a_copy_of_the_default_when_unset() -> None:
    default = ["localhost"]

    value = env_list(VAR, default)
    value.append("changed")

    assert default == ["localhost"]
    assert env_list(VAR) == []


def test_env_list_set_but_empty_is_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, "")

    assert env_list(VAR, ["localhost"]) == []


# --- env_path ----------------------------------------------------------------------------------


def test_env_path_reads_an_absolute_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(VAR, str(tmp_path / "backups"))

    assert env_path(VAR, Path("/default")) == tmp_path / "backups"


def test_env_path_expands_the_home_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, "~/backups")

    assert env_path(VAR, Path("/default")) == Path.home() / "backups"


def test_env_path_uses_the_default_when_unset() -> None:
    assert env_path(VAR, Path("/srv/incidentcenter")) == Path("/srv/incidentcenter")


@pytest.mark.parametrize("raw", ["var/backups", "./backups", "backups"])
def test_env_path_refuses_a_relative_path(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(VAR, raw)

    with pytest.raises(ImproperlyConfigured) as caught:
        env_path(VAR, Path("/default"))

    assert str(caught.value) == f"{VAR}={raw!r} must be an absolute path"


# --- env_str and <NAME>_FILE -------------------------------------------------------------------


def test_env_str_reads_the_variable_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_str(VAR, "fallback") == "fallback"
    monkeypatch.setenv(VAR, "value")

    assert env_str(VAR, "fallback") == "value"


def test_a_secret_is_read_from_the_file_named_by_name_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("s3cret-from-a-file\n")
    monkeypatch.setenv(f"{VAR}_FILE", str(secret))

    assert env_str(VAR) == "s3cret-from-a-file"


def test_the_file_wins_over_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("from-the-file")
    monkeypatch.setenv(VAR, "from-the-environment")
    monkeypatch.setenv(f"{VAR}_FILE", str(secret))

    assert env_str(VAR) == "from-the-file"


def test_an_unreadable_secret_file_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "secret_key"
    monkeypatch.setenv(f"{VAR}_FILE", str(missing))

    with pytest.raises(ImproperlyConfigured) as caught:
        env_str(VAR)

    assert str(caught.value).startswith(f"{VAR}_FILE={str(missing)!r} cannot be read: ")
    assert "No such file or directory" in str(caught.value)


def test_an_empty_name_file_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, "value")
    monkeypatch.setenv(f"{VAR}_FILE", "")

    assert env_str(VAR) == "value"
