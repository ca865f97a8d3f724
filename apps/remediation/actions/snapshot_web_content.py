"""`snapshot_web_content`: the known good copy of the website that the seed's
`restore-web-content.sh [backup-timestamp]` restores from.

A tar.gz of WEB_ROOT in BACKUP_DIR with a manifest (relative path → SHA-256 and size; symlinks
recorded, not followed) kept in the record and beside the archive. Verified by re-reading the
archive and finding every member's bytes matching the manifest."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.remediation import webcontent
from apps.remediation.catalog import ActionParams, Outcome, RemediationAction, register
from apps.remediation.context import RunContext
from apps.remediation.models import Artifact
from apps.remediation.params import label_field


class Params(ActionParams):
    label = label_field(
        required=False, initial="manual", help_text="Ends the file name, e.g. known-good or before-deploy."
    )

    def clean_label(self) -> str:
        label = str(self.cleaned_data.get("label") or "")
        if label == webcontent.SAFETY_LABEL:
            raise forms.ValidationError(f"“{label}” is kept for the snapshots a restore takes first.")
        return label


@register
class SnapshotWebContent(RemediationAction):
    key = "snapshot_web_content"
    title = "Snapshot web content"
    description = (
        "Archive the website's files (WEB_ROOT) into BACKUP_DIR with a SHA-256 manifest: the known good "
        "copy that verify_web_content compares against and restore_web_content restores."
    )
    Params = Params
    timeout_seconds = 600
    verification = "The archive is read back and every file's SHA-256 matches the manifest."

    def describe(self, params: dict[str, Any]) -> str:
        return f"Snapshot web content ({params.get('label') or 'manual'})"

    def undo_note(self) -> str:
        return "A snapshot only adds a file to BACKUP_DIR: there is nothing to undo."

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        root = webcontent.web_root()
        label = params.get("label") or "manual"
        ctx.step(f"Archiving {root}")
        if not ctx.would(f"archive {root} into {webcontent.snapshot_name(label)} in BACKUP_DIR"):
            files, size = webcontent.count(root) if root.is_dir() else (0, 0)
            ctx.log(f"{root}: {files} files and links, {size} bytes.", stream="dry")
            return Outcome("Dry run: the snapshot would be written.", result={"files": files, "bytes": size})
        snap = webcontent.write_snapshot(ctx, root, label)
        total = sum(int(entry.get("size", 0)) for entry in snap.manifest.values())
        ctx.log(f"Wrote {snap.path} ({snap.size} bytes, {len(snap.manifest)} entries, sha256 {snap.sha256}).")
        ctx.step("Reading the archive back")
        problems = webcontent.archive_problems(snap.path, snap.manifest)
        for problem in problems:
            ctx.log(problem, stream="err")
        verified = not problems
        ctx.log("Every member matches the manifest." if verified else f"{len(problems)} problem(s) in the archive.")
        ctx.produced_file(
            Artifact.Kind.WEB_SNAPSHOT,
            snap.path,
            label=label,
            meta={
                "sha256": snap.sha256,
                "root": str(root),
                "files": len(snap.manifest),
                "bytes": total,
                "manifest_file": snap.path.name.removesuffix(".tar.gz") + ".manifest.json",
                "manifest": snap.manifest,
            },
        )
        return Outcome(
            f"Snapshot {snap.name}: {len(snap.manifest)} files and links, {total} bytes"
            + ("" if verified else " (but it did not read back intact: see the log)"),
            verified=verified,
            result={"snapshot": snap.name, "sha256": snap.sha256, "files": len(snap.manifest), "bytes": total,
                    "skipped": snap.skipped, "problems": problems[:50]},
        )  # fmt: skip
