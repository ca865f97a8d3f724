"""The web content snapshot shared by `snapshot_web_content`, `verify_web_content` and
`restore_web_content`: a manifest of WEB_ROOT (relative path → SHA-256 and size, or the target of
a symlink), a tar.gz written with that manifest computed from the very bytes archived, and the
checks that compare a folder or an archive against a manifest."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings

from apps.remediation.catalog import ActionError
from apps.remediation.context import RunContext, safe_child, sha256_of
from apps.remediation.models import Artifact
from apps.remediation.params import SAFETY_LABEL as SAFETY_LABEL
from apps.remediation.params import newest_artifact

Manifest = dict[str, dict[str, Any]]
CHUNK = 1024 * 1024
# SAFETY_LABEL marks the snapshot a restore takes of what it replaces: "latest" never means one
# of those (it would put the defaced content back); they are chosen by name, as the undo does.


@dataclass
class Snapshot:
    path: Path
    manifest: Manifest
    sha256: str
    size: int
    skipped: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class Difference:
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not (self.changed or self.added or self.removed)

    def as_dict(self) -> dict[str, list[str]]:
        return {"changed": self.changed, "added": self.added, "removed": self.removed}

    def summary(self) -> str:
        return f"{len(self.changed)} changed, {len(self.added)} added, {len(self.removed)} removed"


def web_root() -> Path:
    return Path(settings.WEB_ROOT)


def _walk(root: Path) -> list[tuple[str, Path, os.stat_result]]:
    """Every entry under `root` (not following symlinks), sorted, with its lstat."""
    entries: list[tuple[str, Path, os.stat_result]] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        base = Path(folder)
        for name in sorted([*dirs, *names]):
            path = base / name
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            entries.append((path.relative_to(root).as_posix(), path, info))
    return entries


def _entry(path: Path, info: os.stat_result) -> dict[str, Any] | None:
    if stat.S_ISLNK(info.st_mode):
        return {"link": os.readlink(path)}
    if stat.S_ISREG(info.st_mode):
        return {"sha256": sha256_of(path), "size": info.st_size}
    return None


def build_manifest(root: Path) -> Manifest:
    """The manifest of the live folder: regular files hashed, symlinks recorded (not followed);
    directories are implied by their files, other file types are not web content."""
    manifest: Manifest = {}
    for relative, path, info in _walk(root):
        entry = _entry(path, info)
        if entry is not None:
            manifest[relative] = entry
    return manifest


def compare(manifest: Manifest, root: Path) -> Difference:
    """What differs in `root` from `manifest`: changed, added and removed paths, sorted."""
    live = build_manifest(root) if root.is_dir() else {}
    return Difference(
        changed=sorted(name for name in manifest.keys() & live.keys() if manifest[name] != live[name]),
        added=sorted(live.keys() - manifest.keys()),
        removed=sorted(manifest.keys() - live.keys()),
    )


def count(root: Path) -> tuple[int, int]:
    """Files and bytes under `root`, without reading them (for a dry run)."""
    files = size = 0
    for _relative, _path, info in _walk(root):
        if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
            files += 1
            size += info.st_size if stat.S_ISREG(info.st_mode) else 0
    return files, size


class _Hashing:
    """Reads a file for tarfile while hashing exactly the bytes that go into the archive."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def snapshot_name(label: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = Path(settings.BACKUP_DIR)
    taken = set(
        Artifact.objects.filter(kind=Artifact.Kind.WEB_SNAPSHOT, name__startswith=f"web-{stamp}-").values_list(
            "name", flat=True
        )
    )
    for attempt in range(1, 100):
        name = f"web-{stamp}-{label}{'' if attempt == 1 else f'-{attempt}'}.tar.gz"
        if name not in taken and not (folder / name).exists():
            return name
    raise ActionError("Could not find a free snapshot name in BACKUP_DIR.")


def write_snapshot(ctx: RunContext, root: Path, label: str) -> Snapshot:
    """Archive `root` into BACKUP_DIR as web-<UTC>-<label>.tar.gz with its manifest beside it
    (`.manifest.json`). Written under a temporary name and renamed when complete."""
    if not root.is_dir():
        raise ActionError(f"WEB_ROOT {root} is not a folder on this host: there is nothing to snapshot.")
    folder = Path(settings.BACKUP_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    final = safe_child(folder, snapshot_name(label))
    # The run's id keeps two runs in the same second apart; the file is private from its first byte.
    partial = final.with_name(f".{final.name}.run{ctx.run_id}.partial")
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    manifest: Manifest = {}
    skipped: list[str] = []
    try:
        with tarfile.open(partial, "w:gz") as tar:
            for relative, path, info in _walk(root):
                _add(tar, relative, path, info, manifest, skipped)
        os.chmod(partial, 0o600)
        os.replace(partial, final)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ActionError(f"The snapshot could not be written ({error}); WEB_ROOT was not changed.") from error
    for name in skipped:
        ctx.log(f"Not archived (not a file, folder or symlink): {name}", stream="err")
    for name, entry in manifest.items():
        if "link" in entry and not _link_inside(name, str(entry["link"])):
            ctx.log(
                f"Recorded symlink {name} → {entry['link']} points outside WEB_ROOT: a restore refuses it.",
                stream="err",
            )
    sidecar = final.with_name(final.name.removesuffix(".tar.gz") + ".manifest.json")
    sidecar.write_text(
        json.dumps({"archive": final.name, "root": str(root), "files": manifest}, indent=1, sort_keys=True),
        encoding="utf-8",
    )
    os.chmod(sidecar, 0o600)
    return Snapshot(final, manifest, sha256_of(final), final.stat().st_size, skipped)


def _add(
    tar: tarfile.TarFile, relative: str, path: Path, info: os.stat_result, manifest: Manifest, skipped: list[str]
) -> None:
    if stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode):
        member = tar.gettarinfo(str(path), arcname=relative)
        tar.addfile(member)
        if member.issym():
            manifest[relative] = {"link": member.linkname}
        return
    if not stat.S_ISREG(info.st_mode):
        skipped.append(relative)
        return
    with path.open("rb") as handle:
        member = tar.gettarinfo(arcname=relative, fileobj=handle)
        # Every file is stored whole, even a second hard link to the same inode: the manifest
        # and a restore then never depend on another member.
        member.type, member.linkname, member.size = tarfile.REGTYPE, "", os.fstat(handle.fileno()).st_size
        reader = _Hashing(handle)
        tar.addfile(member, reader)
    manifest[relative] = {"sha256": reader.digest.hexdigest(), "size": member.size}


def _link_inside(name: str, target: str) -> bool:
    if target.startswith("/"):
        return False
    depth = len(PurePosixPath(name).parts) - 1
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return False
    return True


def archive_problems(path: Path, manifest: Manifest) -> list[str]:
    """Re-read the archive: every member in the manifest is there with the same bytes (or the
    same link target), and nothing else is. An empty list means it matches."""
    problems: list[str] = []
    seen: set[str] = set()
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.isdir():
                    continue
                seen.add(member.name)
                expected = manifest.get(member.name)
                if expected is None:
                    problems.append(f"{member.name}: in the archive, not in the manifest")
                elif member.issym():
                    if expected.get("link") != member.linkname:
                        problems.append(f"{member.name}: link target differs")
                elif member.isreg():
                    handle = tar.extractfile(member)
                    assert handle is not None
                    digest = hashlib.sha256()
                    while chunk := handle.read(CHUNK):
                        digest.update(chunk)
                    if expected.get("sha256") != digest.hexdigest():
                        problems.append(f"{member.name}: content differs")
                else:
                    problems.append(f"{member.name}: unexpected member type")
    except (OSError, tarfile.TarError, EOFError) as error:
        return [f"the archive cannot be read: {error}"]
    problems.extend(f"{name}: in the manifest, missing from the archive" for name in sorted(manifest.keys() - seen))
    return problems


def unsafe_members(path: Path, destination: Path) -> list[str]:
    """Members a restore must refuse: absolute paths, "..", links leaving the folder, hard
    links, devices and anything else but files, folders and symlinks (tarfile's "data" filter
    is applied as well, and again on extraction)."""
    problems: list[str] = []
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            name = member.name
            if name.startswith("/") or ".." in PurePosixPath(name).parts:
                problems.append(f"{name!r}: absolute path or '..'")
            elif not (member.isreg() or member.isdir() or member.issym()):
                problems.append(f"{name!r}: {'hard link' if member.islnk() else 'special file'} not allowed")
            elif member.issym() and not _link_inside(name, member.linkname):
                problems.append(f"{name!r}: symlink to {member.linkname!r} leaves the folder")
            else:
                try:
                    tarfile.data_filter(member, str(destination))
                except tarfile.FilterError as error:
                    problems.append(f"{name!r}: {error}")
    return problems


def find_snapshot(host: Any, choice: str) -> Artifact:
    """The recorded snapshot `choice`: a name from the host's record, or "latest" (the newest
    that is not a restore's safety snapshot)."""
    snapshots = Artifact.objects.filter(host=host, kind=Artifact.Kind.WEB_SNAPSHOT)
    artifact = (
        newest_artifact(host, Artifact.Kind.WEB_SNAPSHOT)
        if choice == "latest"
        else snapshots.filter(name=choice).first()
    )
    if artifact is None:
        raise ActionError(
            "This host has no web content snapshot recorded yet: take one with snapshot_web_content."
            if choice == "latest"
            else f"No snapshot named {choice!r} is recorded for this host."
        )
    if not isinstance(artifact.meta.get("manifest"), dict):
        raise ActionError(f"The record of {artifact.name} holds no manifest: it cannot be compared or restored.")
    return artifact


def snapshot_path(artifact: Artifact) -> Path:
    return safe_child(Path(settings.BACKUP_DIR), artifact.name)
