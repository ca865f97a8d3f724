"""`capture_forensics`: the seed's "Preserve Evidence" (`capture-forensic-logs.sh`).

Writes one bundle, evidence-<UTC>-run<id>.tar.gz in EVIDENCE_DIR (mode 0600): the processes,
the listening ports with their processes, who is logged in and the last logins, the files
modified under the host's application folder in 24 h with their SHA-256, copies of the
configured log files, and MANIFEST.sha256 (`sha256sum -c` format) over every member. What it
collects it only reads: opened read-only, without following symlinks in the application folder,
with O_NOATIME where the kernel allows, never touched or chmod'ed. Verified by reading the bundle
back and checking every member against the manifest."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psutil
from django.conf import settings

from apps.health.probes import security
from apps.remediation.catalog import ActionError, ActionParams, Outcome, RemediationAction, register
from apps.remediation.context import RunContext, safe_child, sha256_of
from apps.remediation.models import Artifact

HASH_LIMIT = 50 * 1024 * 1024
CHUNK = 1024 * 1024
MANIFEST = "MANIFEST.sha256"
PROCESS_FIELDS = ["pid", "ppid", "name", "username", "exe", "cmdline", "cwd", "status", "create_time", "num_threads"]


def open_read_only(path: Path, *, follow: bool) -> IO[bytes]:
    """Open for reading without changing the file: no write access, O_NOATIME where permitted
    (the owner or root), O_NONBLOCK so a FIFO cannot hang the run; regular files only."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow else os.O_NOFOLLOW)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except PermissionError:
        fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return os.fdopen(fd, "rb")


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=1, sort_keys=True, default=str).encode()


class _Bundle:
    """The tar.gz being written, hashing each member as it goes in."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.hashes: dict[str, str] = {}

    def add_bytes(self, name: str, data: bytes, mtime: float | None = None) -> None:
        member = tarfile.TarInfo(name)
        member.size, member.mtime, member.mode = len(data), int(mtime or time.time()), 0o600
        self.tar.addfile(member, io.BytesIO(data))
        self.hashes[name] = hashlib.sha256(data).hexdigest()

    def add_copy(self, name: str, source: Path, scratch: Path) -> dict[str, Any]:
        """Copy `source` as it is (whatever it holds when read) into the bundle."""
        with open_read_only(source, follow=True) as handle, tempfile.TemporaryFile(dir=scratch) as copy:
            before = os.fstat(handle.fileno())
            digest = hashlib.sha256()
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                copy.write(chunk)
            member = tarfile.TarInfo(name)
            member.size, member.mtime, member.mode = copy.tell(), int(before.st_mtime), 0o600
            copy.seek(0)
            self.tar.addfile(member, copy)
        self.hashes[name] = digest.hexdigest()
        return {"source": str(source), "member": name, "size": member.size, "sha256": self.hashes[name],
                "mtime": before.st_mtime, "mode": oct(stat.S_IMODE(before.st_mode)), "uid": before.st_uid}  # fmt: skip


def processes() -> list[dict[str, Any]]:
    rows = []
    for process in psutil.process_iter(PROCESS_FIELDS, ad_value=None):
        info = dict(process.info)
        try:
            info["rss"] = process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            info["rss"] = None
        rows.append(info)
    return sorted(rows, key=lambda row: int(row["pid"]))


def modified_files(host: Any) -> dict[str, Any]:
    """The probe's list of files modified in 24 h under the application folder, with SHA-256."""
    found = security.modified_files(host)
    for row in found.get("files", []):
        path = Path(row["path"])
        try:
            mode = path.lstat().st_mode
        except OSError as error:
            row["sha256"], row["note"] = None, f"gone: {error.strerror}"
            continue
        if stat.S_ISLNK(mode):
            row["sha256"], row["link"] = None, os.readlink(path)
        elif not stat.S_ISREG(mode):
            row["sha256"], row["note"] = None, "not a regular file"
        elif row["size"] > HASH_LIMIT:
            row["sha256"], row["note"] = None, f"larger than {HASH_LIMIT // (1024 * 1024)} MB: not hashed"
        else:
            row["sha256"] = _hash(path)
    return found


def _hash(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open_read_only(path, follow=False) as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def bundle_problems(path: Path) -> list[str]:
    """Read the bundle back: MANIFEST.sha256 lists every other member, each with matching bytes."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            actual: dict[str, str] = {}
            listed: dict[str, str] = {}
            for member in tar:
                handle = tar.extractfile(member) if member.isreg() else None
                if handle is None:
                    return [f"{member.name}: not a regular file"]
                data = hashlib.sha256()
                manifest_text = b""
                while chunk := handle.read(CHUNK):
                    data.update(chunk)
                    if member.name == MANIFEST:
                        manifest_text += chunk
                if member.name == MANIFEST:
                    for line in manifest_text.decode().splitlines():
                        digest, _, name = line.partition("  ")
                        listed[name] = digest
                else:
                    actual[member.name] = data.hexdigest()
    except (OSError, tarfile.TarError, EOFError, UnicodeDecodeError) as error:
        return [f"the bundle cannot be read: {error}"]
    if not listed:
        return [f"{MANIFEST} is missing or empty"]
    problems = [f"{name}: not in {MANIFEST}" for name in sorted(actual.keys() - listed.keys())]
    problems += [f"{name}: listed but missing" for name in sorted(listed.keys() - actual.keys())]
    problems += [
        f"{name}: SHA-256 differs" for name in sorted(listed.keys() & actual.keys()) if listed[name] != actual[name]
    ]
    return problems


class Params(ActionParams):
    pass


@register
class CaptureForensics(RemediationAction):
    key = "capture_forensics"
    title = "Capture forensic evidence"
    description = (
        "Write an evidence bundle before anything is changed: processes, listening ports, logins, files "
        "modified in 24 h (with SHA-256), copies of the configured log files, and a SHA-256 manifest."
    )
    Params = Params
    timeout_seconds = 600
    verification = "The bundle is read back and every member matches MANIFEST.sha256."

    def describe(self, params: dict[str, Any]) -> str:
        return "Capture forensic evidence"

    def undo_note(self) -> str:
        return "It only adds a bundle to EVIDENCE_DIR: evidence is kept, never undone."

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        folder = Path(settings.EVIDENCE_DIR)
        logs = [Path(name) for name in settings.FORENSIC_LOG_FILES]
        captured_at = datetime.now(UTC)
        name = f"evidence-{captured_at:%Y%m%dT%H%M%SZ}-run{ctx.run_id}.tar.gz"
        ctx.step(f"Capturing evidence into {folder / name}")
        if not ctx.would(
            f"write {name} with processes, listening ports, logins, files modified in 24 h under "
            f"{ctx.host.app_dir or '(no application folder set)'} and {len(logs)} log file(s): "
            + ", ".join(f"{log} ({'present' if log.is_file() else 'missing'})" for log in logs)
        ):
            return Outcome(
                "Dry run: the bundle would be written.",
                result={"would_write": name, "logs": [str(log) for log in logs]},
            )
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        bundle_path = safe_child(folder, name)
        partial = bundle_path.with_name(f".{name}.partial")
        try:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            with tarfile.open(partial, "w:gz") as tar:
                counts, copied, missing = self._collect(ctx, _Bundle(tar), folder, logs, captured_at)
            os.replace(partial, bundle_path)
        except (OSError, tarfile.TarError) as error:
            raise ActionError(f"The evidence bundle could not be written: {error}") from error
        finally:
            partial.unlink(missing_ok=True)
        ctx.step("Reading the bundle back")
        problems = bundle_problems(bundle_path)
        for problem in problems:
            ctx.log(problem, stream="err")
        verified = not problems
        sha = sha256_of(bundle_path)
        ctx.log(
            f"{bundle_path}: {bundle_path.stat().st_size} bytes, sha256 {sha}; "
            + ("every member matches the manifest." if verified else "it does NOT verify.")
        )
        ctx.produced_file(
            Artifact.Kind.EVIDENCE,
            bundle_path,
            label="forensics",
            meta={
                "sha256": sha,
                "captured_at": captured_at.isoformat(),
                "counts": counts,
                "logs": copied,
                "missing_logs": missing,
            },
        )
        summary = (
            f"Evidence bundle {name}: {counts['processes']} processes, {counts['ports']} listening ports, "
            f"{counts['users']} users logged in, {counts['modified_files']} files modified in 24 h, "
            f"{len(copied)} log file(s) copied" + (f", {len(missing)} missing" if missing else "")
        )
        return Outcome(
            summary + ("" if verified else " (but it did not read back intact: see the log)"),
            verified=verified,
            result={"bundle": name, "sha256": sha, "counts": counts, "logs": [row["source"] for row in copied],
                    "missing_logs": missing, "problems": problems[:50]},
        )  # fmt: skip

    def _collect(
        self, ctx: RunContext, bundle: _Bundle, folder: Path, logs: list[Path], captured_at: datetime
    ) -> tuple[dict[str, int], list[dict[str, Any]], list[dict[str, str]]]:
        ctx.log("Processes")
        rows = processes()
        bundle.add_bytes("processes.json", _json(rows))
        ctx.log("Listening ports")
        ports = security.listening_ports(ctx.host)
        bundle.add_bytes("ports.json", _json(ports))
        ctx.log("Logins")
        logins = self._logins(ctx)
        bundle.add_bytes("logins.json", _json(logins))
        ctx.log(f"Files modified in 24 h under {ctx.host.app_dir or '(no application folder set)'}")
        modified = modified_files(ctx.host)
        bundle.add_bytes("modified_files.json", _json(modified))
        copied: list[dict[str, Any]] = []
        missing: list[dict[str, str]] = []
        for number, log in enumerate(logs, 1):
            member = f"logs/{number:02d}-{''.join(c if c.isalnum() or c in '.-_' else '_' for c in log.name)[:100]}"
            try:
                copied.append(bundle.add_copy(member, log, folder))
                ctx.log(f"Copied {log} ({copied[-1]['size']} bytes)")
            except OSError as error:
                reason = error.strerror or str(error)
                missing.append({"source": str(log), "reason": reason})
                ctx.log(f"Not copied: {log} ({reason})", stream="err")
        counts = {"processes": len(rows), "ports": len(ports["ports"]), "users": len(logins["users"]),
                  "last_lines": len(logins["last"]), "modified_files": len(modified.get("files", []))}  # fmt: skip
        collection = {
            "host": ctx.host.name,
            "run": ctx.run_id,
            "incident": getattr(ctx.incident, "pk", None),
            "requested_by": getattr(ctx.requested_by, "username", None),
            "captured_at": captured_at.isoformat(),
            "counts": counts,
            "logs": copied,
            "missing_logs": missing,
            "modified_files_error": modified.get("error"),
        }
        bundle.add_bytes("collection.json", _json(collection))
        bundle.add_bytes(MANIFEST, "".join(f"{digest}  {name}\n" for name, digest in bundle.hashes.items()).encode())
        return counts, copied, missing

    def _logins(self, ctx: RunContext) -> dict[str, Any]:
        users = [
            {"name": user.name, "terminal": user.terminal or "", "host": user.host or "", "started": user.started,
             "pid": getattr(user, "pid", None)}
            for user in psutil.users()
        ]  # fmt: skip
        last = shutil.which("last")
        lines: list[str] = []
        if last is None:
            ctx.log("`last` is not installed on this host: the recent logins are not in the bundle.")
        else:
            result = ctx.command([last, "-n", "50"], changes_state=False, check=False, quiet=True, timeout=30)
            lines = [line for line in result.lines if line.strip()]
            ctx.log(f"last: {len(lines)} line(s)")
        return {"users": users, "last": lines, "last_available": last is not None}
