"""`restore_web_content`: the seed's `restore-web-content.sh [backup-timestamp]`.

Refuses an archive whose SHA-256 differs from its record or that holds a member it could not
extract safely, before anything changes. Then it snapshots the current (defaced) content, which
the undo restores, extracts into a folder beside WEB_ROOT with tarfile's "data" filter, checks
the extracted files against the manifest, and only then swaps the folders by renaming: a failure
at any step leaves the live content as it was. Verified by comparing the live files with the
manifest."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import Any

from apps.remediation import webcontent
from apps.remediation.catalog import ActionError, ActionParams, Outcome, RemediationAction, register
from apps.remediation.context import RunContext, sha256_of
from apps.remediation.models import Artifact
from apps.remediation.params import ArtifactChoiceField

SAFETY_LABEL = webcontent.SAFETY_LABEL


class Params(ActionParams):
    snapshot = ArtifactChoiceField(
        kind=Artifact.Kind.WEB_SNAPSHOT, initial="latest", help_text="The known good copy to put back."
    )


@register
class RestoreWebContent(RemediationAction):
    key = "restore_web_content"
    title = "Restore web content"
    description = (
        "Put the website's files (WEB_ROOT) back as they were in a snapshot: the current files are "
        "snapshotted first, the archive is checked and extracted safely beside WEB_ROOT, then swapped in."
    )
    Params = Params
    dangerous = True
    timeout_seconds = 900
    verification = "Every live file's SHA-256 matches the snapshot's manifest, with none added or removed."

    def describe(self, params: dict[str, Any]) -> str:
        snapshot = params.get("snapshot") or "latest"
        return "Restore web content from " + ("the newest snapshot" if snapshot == "latest" else snapshot)

    def undo(self, params: dict[str, Any], result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        safety = result.get("safety_snapshot")
        return (self.key, {"snapshot": safety}) if safety else None

    def undo_note(self) -> str:
        return "The undo restores the safety snapshot taken just before."

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        artifact = webcontent.find_snapshot(ctx.host, params["snapshot"])
        manifest: webcontent.Manifest = artifact.meta["manifest"]
        archive = webcontent.snapshot_path(artifact)
        root = webcontent.web_root()
        staging = root.parent / f".{root.name}.restore-run{ctx.run_id}"
        ctx.step(f"Checking {artifact.name}")
        self._check_archive(ctx, artifact, archive, staging)
        before = webcontent.compare(manifest, root)
        ctx.log(f"The live content differs from the snapshot: {before.summary()}.")
        if not ctx.would(
            f"snapshot {root} ({SAFETY_LABEL}), extract {artifact.name} into {staging} and swap it in as {root}"
        ):
            return Outcome(
                "Dry run: the archive is intact and safe; nothing was changed.",
                result={"snapshot": artifact.name, "before": before.as_dict()},
            )
        safety = self._safety_snapshot(ctx, root)
        ctx.step(f"Extracting into {staging}")
        try:
            self._extract(ctx, archive, manifest, staging, root)
            ctx.step(f"Swapping {staging.name} in as {root}")
            self._swap(ctx, staging, root)
        except (OSError, tarfile.TarError) as error:
            raise ActionError(
                f"The restore stopped before the swap ({error}); {root} was not changed"
                + (f" (the safety snapshot {safety} is in BACKUP_DIR)." if safety else ".")
            ) from error
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        ctx.step("Comparing the live files with the manifest")
        after = webcontent.compare(manifest, root)
        verified = after.matches
        ctx.log("The live files match the snapshot." if verified else f"Still different: {after.summary()}.")
        return Outcome(
            f"Restored {artifact.name} into {root}" + ("" if verified else f" but it differs: {after.summary()}"),
            verified=verified,
            result={"snapshot": artifact.name, "safety_snapshot": safety, "before": before.as_dict(),
                    "after": after.as_dict(), "files": len(manifest)},
        )  # fmt: skip

    def _check_archive(self, ctx: RunContext, artifact: Artifact, archive: Path, staging: Path) -> None:
        if not archive.is_file():
            raise ActionError(f"{archive} is missing: nothing was changed.")
        actual = sha256_of(archive)
        if actual != artifact.sha256:
            raise ActionError(
                f"{artifact.name} was altered since it was recorded (SHA-256 {actual[:12]}…, recorded "
                f"{artifact.sha256[:12]}…): refused, nothing was changed."
            )
        ctx.log(f"SHA-256 matches the record ({actual}).")
        try:
            problems = webcontent.unsafe_members(archive, staging)
        except (OSError, tarfile.TarError, EOFError) as error:
            raise ActionError(f"{artifact.name} cannot be read ({error}): nothing was changed.") from error
        if problems:
            for problem in problems[:50]:
                ctx.log(f"Unsafe member {problem}", stream="err")
            raise ActionError(
                f"{artifact.name} holds {len(problems)} member(s) that cannot be extracted safely "
                f"({problems[0]}): refused, nothing was changed."
            )
        ctx.log("Every member is a file, folder or link inside the folder.")

    def _safety_snapshot(self, ctx: RunContext, root: Path) -> str | None:
        if not root.is_dir():
            ctx.log(f"{root} does not exist: there is nothing to keep before restoring.")
            return None
        ctx.step(f"Taking a safety snapshot of the current content of {root}")
        snap = webcontent.write_snapshot(ctx, root, SAFETY_LABEL)
        problems = webcontent.archive_problems(snap.path, snap.manifest)
        if problems:
            raise ActionError(
                f"The safety snapshot {snap.name} did not read back intact ({problems[0]}): nothing was changed."
            )
        ctx.produced_file(
            Artifact.Kind.WEB_SNAPSHOT,
            snap.path,
            label=SAFETY_LABEL,
            meta={"sha256": snap.sha256, "root": str(root), "files": len(snap.manifest), "manifest": snap.manifest,
                  "manifest_file": snap.path.name.removesuffix(".tar.gz") + ".manifest.json", "run": ctx.run_id},
        )  # fmt: skip
        ctx.log(f"Safety snapshot {snap.name} ({len(snap.manifest)} entries): the undo restores it.")
        return snap.name

    def _extract(
        self, ctx: RunContext, archive: Path, manifest: webcontent.Manifest, staging: Path, root: Path
    ) -> None:
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(mode=0o700)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(staging, filter="data")
        mode = stat.S_IMODE(root.stat().st_mode) if root.is_dir() else 0o755
        os.chmod(staging, mode)
        extracted = webcontent.compare(manifest, staging)
        if not extracted.matches:
            raise ActionError(
                f"The extracted files do not match the manifest ({extracted.summary()}): {root} was not changed."
            )
        ctx.log(f"Extracted {len(manifest)} entries; they match the manifest.")

    def _swap(self, ctx: RunContext, staging: Path, root: Path) -> None:
        replaced = root.parent / f".{root.name}.replaced-run{ctx.run_id}"
        if replaced.exists():
            shutil.rmtree(replaced)
        had_root = root.exists()
        if had_root:
            os.rename(root, replaced)
        try:
            os.rename(staging, root)
        except OSError:
            if had_root:
                os.rename(replaced, root)
            raise
        if had_root:
            shutil.rmtree(replaced, ignore_errors=True)
        ctx.log(f"{root} now holds the restored files (the replaced ones are in the safety snapshot).")
