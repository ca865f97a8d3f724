"""snapshot_web_content, verify_web_content and restore_web_content on real files in WEB_ROOT and
real archives in BACKUP_DIR, run by the real executor."""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest

from apps.accounts.models import User
from apps.health.models import Host
from apps.remediation import catalog, services
from apps.remediation.context import sha256_of
from apps.remediation.models import ActionRun, Artifact
from tests.remediation.conftest import execute, log_text, request_run

pytestmark = pytest.mark.django_db


State = ActionRun.State

SITE = {
    "index.html": b"<h1>The shop</h1>\n",
    "about.html": b"<p>About us</p>\n",
    "css/site.css": b"body { color: #222; }\n",
    "img/logo.png": bytes(range(256)) * 40,
}


@pytest.fixture
def site(action_folders: dict[str, Path]) -> Path:
    root = action_folders["WEB_ROOT"]
    for name, data in SITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "home.html").symlink_to("index.html")
    (root / "empty").mkdir()
    return root


def deface(root: Path) -> None:
    (root / "index.html").write_bytes(b"<h1>HACKED BY nobody</h1>\n")
    (root / "evil.php").write_bytes(b"<?php system($_GET['c']); ?>\n")
    (root / "css" / "site.css").unlink()


def snapshot(user: User, host: Host, label: str = "known-good") -> ActionRun:
    run = execute(request_run(user, "snapshot_web_content", {"label": label}, host=host))
    assert run.state == State.SUCCEEDED, log_text(run)
    return run


def restore(user: User, host: Host, choice: str = "latest", **options: Any) -> ActionRun:
    options.setdefault("break_glass_reason", "the site is defaced")
    return execute(request_run(user, "restore_web_content", {"snapshot": choice}, host=host, **options))


def tree(root: Path) -> dict[str, bytes | str]:
    """Every file's bytes and every link's target under `root`."""
    found: dict[str, bytes | str] = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            key = path.relative_to(root).as_posix()
            found[key] = f"-> {os.readlink(path)}" if path.is_symlink() else path.read_bytes()
    return found


def test_snapshot_archives_every_file_with_its_manifest_and_reads_back(responder, local_host, site, action_folders):
    run = snapshot(responder, local_host)

    assert run.verified
    artifact = Artifact.objects.get(run=run)
    assert artifact.kind == Artifact.Kind.WEB_SNAPSHOT
    assert artifact.label == "known-good"
    assert re.fullmatch(r"web-\d{8}T\d{6}Z-known-good\.tar\.gz", artifact.name)
    archive = action_folders["BACKUP_DIR"] / artifact.name
    assert artifact.sha256 == sha256_of(archive)
    assert artifact.size == archive.stat().st_size
    manifest = artifact.meta["manifest"]
    assert manifest["home.html"] == {"link": "index.html"}
    assert manifest["img/logo.png"]["size"] == len(SITE["img/logo.png"])
    assert {name for name in manifest if "link" not in manifest[name]} == set(SITE)
    sidecar = json.loads((action_folders["BACKUP_DIR"] / artifact.meta["manifest_file"]).read_text())
    assert sidecar["files"] == manifest
    with tarfile.open(archive) as tar:
        link = tar.getmember("home.html")
        assert link.issym()
        assert link.linkname == "index.html"
        assert tar.getmember("empty").isdir()
        assert tar.extractfile("css/site.css").read() == SITE["css/site.css"]  # type: ignore[union-attr]
    assert run.result["files"] == len(SITE) + 1


def test_snapshots_in_the_same_second_get_distinct_names(responder, local_host, site):
    first, second = snapshot(responder, local_host), snapshot(responder, local_host)
    assert first.result["snapshot"] != second.result["snapshot"]
    assert Artifact.objects.filter(kind=Artifact.Kind.WEB_SNAPSHOT).count() == 2


def test_verify_matches_a_pristine_site(responder, local_host, site):
    snapshot(responder, local_host)
    run = execute(request_run(responder, "verify_web_content", {"snapshot": "latest"}, host=local_host))
    assert run.state == State.SUCCEEDED, log_text(run)
    assert run.verified
    assert run.result["changed"] == run.result["added"] == run.result["removed"] == []
    assert run.result["archive_intact"] is True


def test_verify_lists_exactly_the_changed_added_and_removed_files(responder, local_host, site):
    snapshot(responder, local_host)
    deface(site)
    (site / "home.html").unlink()
    (site / "home.html").symlink_to("/etc/passwd")

    run = execute(request_run(responder, "verify_web_content", {"snapshot": "latest"}, host=local_host))

    assert run.state == State.SUCCEEDED
    assert not run.verified
    assert run.result["changed"] == ["home.html", "index.html"]
    assert run.result["added"] == ["evil.php"]
    assert run.result["removed"] == ["css/site.css"]
    assert "Added: evil.php" in log_text(run)
    assert "1 added" in run.summary


def test_verify_compares_with_the_chosen_snapshot(responder, local_host, site):
    first = snapshot(responder, local_host, "first")
    (site / "new.html").write_bytes(b"new")
    snapshot(responder, local_host, "second")
    run = execute(request_run(responder, "verify_web_content", {"snapshot": first.result["snapshot"]}, host=local_host))
    assert run.result["snapshot"] == first.result["snapshot"]
    assert run.result["added"] == ["new.html"]


def test_verify_without_a_snapshot_fails_saying_so(responder, local_host, site):
    run = execute(request_run(responder, "verify_web_content", {"snapshot": "latest"}, host=local_host))
    assert run.state == State.FAILED
    assert "no web content snapshot" in run.summary


def test_restore_brings_back_the_exact_files_and_keeps_a_safety_snapshot(
    responder, manager, local_host, site, action_folders
):
    good = tree(site)
    snapshot(responder, local_host)
    deface(site)
    defaced = tree(site)

    requested = request_run(responder, "restore_web_content", {"snapshot": "latest"}, host=local_host)
    assert requested.state == State.AWAITING_APPROVAL  # dangerous: a second person approves
    services.run_approve(run_id=requested.pk, user=manager)
    run = execute(requested)

    assert run.state == State.SUCCEEDED, log_text(run)

    assert run.verified
    assert tree(site) == good
    assert not (site / "evil.php").exists()
    assert (site / "empty").is_dir()
    assert run.result["before"] == {"changed": ["index.html"], "added": ["evil.php"], "removed": ["css/site.css"]}
    assert run.result["after"] == {"changed": [], "added": [], "removed": []}
    safety = Artifact.objects.get(run=run)
    assert safety.label == "pre-restore"
    assert safety.name == run.result["safety_snapshot"]
    assert (action_folders["BACKUP_DIR"] / safety.name).is_file()
    assert "evil.php" in safety.meta["manifest"]
    assert [p.name for p in site.parent.iterdir() if p.name.startswith(".www")] == []  # no staging left

    # "latest" still means the known good copy, not the safety snapshot of the defaced one.
    check = execute(request_run(responder, "verify_web_content", {"snapshot": "latest"}, host=local_host))
    assert check.verified, log_text(check)
    assert check.result["snapshot"] != safety.name

    # The undo puts the defaced content back from the safety snapshot (it is evidence too).
    _action, params = catalog.get("restore_web_content").undo(run.params, run.result)  # type: ignore[misc]
    assert params == {"snapshot": safety.name}
    undone = restore(responder, local_host, params["snapshot"])
    assert undone.state == State.SUCCEEDED, log_text(undone)
    assert undone.verified
    assert tree(site) == defaced


def test_restore_refuses_an_archive_altered_since_it_was_recorded(responder, local_host, site, action_folders):
    artifact = Artifact.objects.get(run=snapshot(responder, local_host))
    archive = action_folders["BACKUP_DIR"] / artifact.name
    archive.write_bytes(archive.read_bytes() + b"\0")
    deface(site)
    defaced = tree(site)
    backups_before = sorted(p.name for p in action_folders["BACKUP_DIR"].iterdir())

    run = restore(responder, local_host)

    assert run.state == State.FAILED
    assert "altered since it was recorded" in run.summary
    assert "nothing was changed" in run.summary
    assert tree(site) == defaced
    assert sorted(p.name for p in action_folders["BACKUP_DIR"].iterdir()) == backups_before  # no safety snapshot


def _member(name: str, data: bytes = b"pwned\n", **attrs: Any) -> tuple[tarfile.TarInfo, io.BytesIO | None]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, (io.BytesIO(data) if info.isreg() else None)


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (lambda tmp: _member("../evil"), "'..'"),
        (lambda tmp: _member("css/../../evil"), "'..'"),
        (lambda tmp: _member(str(tmp / "evil")), "absolute path"),
        (lambda tmp: _member("link", type=tarfile.SYMTYPE, linkname="../../evil"), "leaves the folder"),
        (lambda tmp: _member("link", type=tarfile.SYMTYPE, linkname="/etc/passwd"), "leaves the folder"),
        (lambda tmp: _member("hard", type=tarfile.LNKTYPE, linkname="index.html"), "hard link"),
        (lambda tmp: _member("dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3), "special file"),
        (lambda tmp: _member("fifo", type=tarfile.FIFOTYPE), "special file"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "link-dotdot", "link-absolute", "hardlink", "device", "fifo"],
)
def test_restore_refuses_a_malicious_archive_even_with_a_matching_record(
    responder, local_host, site, action_folders, tmp_path, member, problem
):
    archive = action_folders["BACKUP_DIR"] / "web-20260101T000000Z-planted.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.addfile(*_member("index.html", SITE["index.html"]))
        tar.addfile(*member(tmp_path))
    Artifact.objects.create(
        kind=Artifact.Kind.WEB_SNAPSHOT, host=local_host, name=archive.name, sha256=sha256_of(archive),
        size=archive.stat().st_size, meta={"manifest": {"index.html": {"sha256": "0" * 64, "size": 18}}},
    )  # fmt: skip
    before = tree(site)

    run = restore(responder, local_host, archive.name)

    assert run.state == State.FAILED, log_text(run)
    assert "cannot be extracted safely" in run.summary
    assert problem in log_text(run)
    assert tree(site) == before
    assert not (tmp_path / "evil").exists()
    assert not (action_folders["BACKUP_DIR"].parent.parent / "evil").exists()
    assert Artifact.objects.filter(kind=Artifact.Kind.WEB_SNAPSHOT).count() == 1  # no safety snapshot recorded
    assert len(list(action_folders["BACKUP_DIR"].iterdir())) == 1


def test_a_restore_that_does_not_match_its_manifest_leaves_the_live_content(
    responder, local_host, site, action_folders
):
    artifact = Artifact.objects.get(run=snapshot(responder, local_host))
    artifact.meta["manifest"]["index.html"]["sha256"] = "0" * 64  # the record says other bytes
    artifact.save()
    deface(site)
    defaced = tree(site)

    run = restore(responder, local_host)

    assert run.state == State.FAILED
    assert "do not match the manifest" in run.summary
    assert tree(site) == defaced
    assert [p.name for p in site.parent.iterdir() if p.name.startswith(".www")] == []


def test_dry_run_of_a_restore_checks_the_archive_and_changes_nothing(responder, local_host, site, action_folders):
    snapshot(responder, local_host)
    deface(site)
    defaced = tree(site)
    backups = sorted(action_folders["BACKUP_DIR"].iterdir())

    run = restore(responder, local_host, dry_run=True)

    assert run.state == State.SUCCEEDED, log_text(run)

    assert not run.verified
    assert "SHA-256 matches the record" in log_text(run)
    assert "would snapshot" in log_text(run)
    assert tree(site) == defaced
    assert sorted(action_folders["BACKUP_DIR"].iterdir()) == backups


def test_dry_run_of_a_snapshot_writes_nothing(responder, local_host, site, action_folders):
    run = execute(request_run(responder, "snapshot_web_content", {"label": "x"}, host=local_host, dry_run=True))
    assert run.state == State.SUCCEEDED
    assert run.result["files"] == len(SITE) + 1
    assert list(action_folders["BACKUP_DIR"].iterdir()) == []


def test_the_snapshot_choice_must_be_a_recorded_snapshot_of_this_host(responder, local_host, site):
    form = catalog.get("restore_web_content").Params(data={"snapshot": "../../etc/passwd"}, host=local_host)
    assert not form.is_valid()
    assert "snapshot" in form.errors
    name = snapshot(responder, local_host).result["snapshot"]
    form = catalog.get("restore_web_content").Params(data={"snapshot": name}, host=local_host)
    assert form.is_valid(), form.errors
    other = Host.objects.create(name="other-host")
    assert not catalog.get("restore_web_content").Params(data={"snapshot": name}, host=other).is_valid()


def test_the_safety_label_is_kept_for_restores(local_host):
    form = catalog.get("snapshot_web_content").Params(data={"label": "pre-restore"}, host=local_host)
    assert not form.is_valid()
    assert "label" in form.errors
