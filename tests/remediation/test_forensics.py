"""capture_forensics on this machine: real processes, ports and logins, a real application folder
and real log files, and a bundle read back member by member."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from apps.remediation import rules
from apps.remediation.context import sha256_of
from apps.remediation.models import ActionRun, Artifact
from apps.runbooks.models import Scenario
from tests.factories import declare_incident
from tests.remediation.conftest import execute, log_text, request_run

pytestmark = pytest.mark.django_db


State = ActionRun.State
HOUR = 3600


@pytest.fixture
def app_dir(tmp_path: Path, local_host) -> Path:
    """An application folder: one file changed an hour ago, one untouched for a week, a link."""
    folder = tmp_path / "app"
    (folder / "src").mkdir(parents=True)
    recent, old = folder / "src" / "views.py", folder / "settings.py"
    recent.write_bytes(b"def view(): return 'backdoor'\n")
    old.write_bytes(b"DEBUG = False\n")
    now = time.time()
    # atime == mtime: under relatime an ordinary read would move the atime forward.
    os.utime(recent, (now - HOUR, now - HOUR))
    os.utime(old, (now - 7 * 24 * HOUR, now - 7 * 24 * HOUR))
    (folder / "current.py").symlink_to("src/views.py")
    local_host.app_dir = str(folder)
    local_host.save()
    return folder


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[list[Path]]:
    folder = tmp_path / "log"
    folder.mkdir()
    access, auth = folder / "access.log", folder / "auth.log"
    access.write_bytes(b"".join(b'10.0.0.%d - - "GET /wp-login.php HTTP/1.1" 404\n' % i for i in range(2000)))
    auth.write_bytes(b"Failed password for root from 203.0.113.9 port 4242 ssh2\n\xff\xfe binary tail")
    for path in (access, auth):
        os.utime(path, (time.time() - 2 * 24 * HOUR, time.time() - 2 * 24 * HOUR))
    files = [access, auth, folder / "rotated-away.log"]
    with override_settings(FORENSIC_LOG_FILES=[str(path) for path in files]):
        yield files


def stats(paths: list[Path]) -> dict[Path, tuple[int, int, int]]:
    return {path: (path.stat().st_mtime_ns, path.stat().st_atime_ns, path.stat().st_mode) for path in paths}


def members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle) as tar:
        return {member.name: tar.extractfile(member).read() for member in tar if member.isreg()}  # type: ignore[union-attr]


def test_the_bundle_holds_the_evidence_and_its_manifest_verifies(responder, local_host, app_dir, logs, action_folders):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        run = execute(request_run(responder, "capture_forensics", {}, host=local_host))
    finally:
        listener.close()

    assert run.state == State.SUCCEEDED, log_text(run)

    assert run.verified
    artifact = Artifact.objects.get(run=run)
    assert artifact.kind == Artifact.Kind.EVIDENCE
    assert re.fullmatch(rf"evidence-\d{{8}}T\d{{6}}Z-run{run.pk}\.tar\.gz", artifact.name)
    bundle = action_folders["EVIDENCE_DIR"] / artifact.name
    assert artifact.sha256 == sha256_of(bundle)
    assert bundle.stat().st_mode & 0o777 == 0o600
    content = members(bundle)
    assert set(content) == {
        "processes.json", "ports.json", "logins.json", "modified_files.json", "collection.json",
        "logs/01-access.log", "logs/02-auth.log", "MANIFEST.sha256",
    }  # fmt: skip

    # The logs, byte for byte.
    assert content["logs/01-access.log"] == logs[0].read_bytes()
    assert content["logs/02-auth.log"] == logs[1].read_bytes()
    collection = json.loads(content["collection.json"])
    assert collection["missing_logs"] == [{"source": str(logs[2]), "reason": "No such file or directory"}]
    assert run.result["missing_logs"] == collection["missing_logs"]

    # The manifest covers every other member, in `sha256sum -c` format.
    listed = dict(reversed(line.split("  ", 1)) for line in content["MANIFEST.sha256"].decode().splitlines())
    assert set(listed) == set(content) - {"MANIFEST.sha256"}
    assert all(hashlib.sha256(content[name]).hexdigest() == digest for name, digest in listed.items())

    # This process, its listening socket, the recent file with its hash (not the old one).
    processes = json.loads(content["processes.json"])
    assert any(row["pid"] == os.getpid() for row in processes)
    ports = json.loads(content["ports.json"])["ports"]
    assert any(row["port"] == port and row["pid"] == os.getpid() for row in ports)
    modified = {row["path"]: row for row in json.loads(content["modified_files.json"])["files"]}
    recent = app_dir / "src" / "views.py"
    assert modified[str(recent)]["sha256"] == sha256_of(recent)
    assert str(app_dir / "settings.py") not in modified
    assert modified[str(app_dir / "current.py")]["link"] == "src/views.py"
    logins = json.loads(content["logins.json"])
    assert set(logins) == {"users", "last", "last_available"}
    assert run.result["counts"]["modified_files"] == 2  # the file and the link


def test_collecting_changes_nothing_it_collects(responder, local_host, app_dir, logs):
    sources = [app_dir / "src" / "views.py", app_dir / "settings.py", logs[0], logs[1]]
    before = stats(sources)

    run = execute(request_run(responder, "capture_forensics", {}, host=local_host))

    assert run.state == State.SUCCEEDED, log_text(run)

    assert run.verified
    assert stats(sources) == before  # mtime, atime and mode, to the nanosecond


def test_a_tampered_bundle_no_longer_verifies(responder, local_host, app_dir, logs, action_folders):
    from apps.remediation.actions.capture_forensics import bundle_problems

    run = execute(request_run(responder, "capture_forensics", {}, host=local_host))
    bundle = action_folders["EVIDENCE_DIR"] / run.result["bundle"]
    assert bundle_problems(bundle) == []
    content = members(bundle)
    content["logs/02-auth.log"] = b"nothing to see here\n"
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in content.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert bundle_problems(bundle) == ["logs/02-auth.log: SHA-256 differs"]


def test_it_uses_last_through_the_run_log(responder, local_host, logs):
    run = execute(request_run(responder, "capture_forensics", {}, host=local_host))
    assert run.state == State.SUCCEEDED, log_text(run)
    assert re.search(r"^\$ \S*last -n 50$", log_text(run), re.MULTILINE)


def test_evidence_captured_for_an_incident_lifts_the_evidence_first_rule(responder, local_host, logs):
    incident = declare_incident(responder, scenario=Scenario.WEBSITE_DEFACEMENT)
    assert rules.evidence_needed(incident, "restore_web_content")

    run = execute(request_run(responder, "capture_forensics", {}, host=local_host, incident=incident))

    assert run.state == State.SUCCEEDED, log_text(run)

    assert run.verified
    assert Artifact.objects.get(run=run).incident == incident
    assert not rules.evidence_needed(incident, "restore_web_content")


def test_dry_run_writes_no_bundle(responder, local_host, logs, action_folders):
    run = execute(request_run(responder, "capture_forensics", {}, host=local_host, dry_run=True))
    assert run.state == State.SUCCEEDED
    assert not run.verified
    assert list(action_folders["EVIDENCE_DIR"].iterdir()) == []
    assert "rotated-away.log (missing)" in log_text(run)
