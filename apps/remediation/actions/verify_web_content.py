"""`verify_web_content`: the seed's "verify file integrity against known good copies".

Reads only: hashes the live WEB_ROOT and compares it with a snapshot's manifest (the newest by
default), as recorded by Incident Center (not the copy beside the archive, which someone on the
host could have edited). Verified when nothing was changed, added or removed."""

from __future__ import annotations

from typing import Any

from apps.remediation import webcontent
from apps.remediation.catalog import ActionParams, Outcome, RemediationAction, register
from apps.remediation.context import RunContext, sha256_of
from apps.remediation.models import Artifact
from apps.remediation.params import ArtifactChoiceField

SHOWN = 50


class Params(ActionParams):
    snapshot = ArtifactChoiceField(
        kind=Artifact.Kind.WEB_SNAPSHOT, initial="latest", help_text="The known good copy to compare with."
    )


@register
class VerifyWebContent(RemediationAction):
    key = "verify_web_content"
    title = "Verify web content"
    description = (
        "Compare the website's live files (WEB_ROOT) with a snapshot's SHA-256 manifest and list the files "
        "changed, added and removed since. Reads only."
    )
    Params = Params
    changes_state = False
    timeout_seconds = 300
    verification = "Every live file's SHA-256 matches the snapshot's manifest, with none added or removed."

    def describe(self, params: dict[str, Any]) -> str:
        snapshot = params.get("snapshot") or "latest"
        return "Verify web content against " + ("the newest snapshot" if snapshot == "latest" else snapshot)

    def undo_note(self) -> str:
        return "It only reads: there is nothing to undo."

    def execute(self, ctx: RunContext, params: dict[str, Any]) -> Outcome:
        artifact = webcontent.find_snapshot(ctx.host, params["snapshot"])
        manifest: webcontent.Manifest = artifact.meta["manifest"]
        root = webcontent.web_root()
        ctx.step(f"Comparing {root} with {artifact.name} ({len(manifest)} entries)")
        difference = webcontent.compare(manifest, root)
        for heading, names in (
            ("Changed", difference.changed),
            ("Added", difference.added),
            ("Removed", difference.removed),
        ):
            for name in names[:SHOWN]:
                ctx.log(f"{heading}: {name}")
            if len(names) > SHOWN:
                ctx.log(f"{heading}: … and {len(names) - SHOWN} more (all in the result)")
        archive = webcontent.snapshot_path(artifact)
        intact = archive.is_file() and sha256_of(archive) == artifact.sha256
        ctx.log(f"The archive {artifact.name} is {'intact' if intact else 'MISSING or ALTERED'} in BACKUP_DIR.")
        summary = (
            f"Web content matches {artifact.name}"
            if difference.matches
            else f"Web content differs from {artifact.name}: {difference.summary()}"
        )
        return Outcome(
            summary,
            verified=difference.matches,
            result={
                "snapshot": artifact.name,
                **difference.as_dict(),
                "compared": len(manifest),
                "archive_intact": intact,
            },
        )
