"""Where a capture's text lives outside the database: the repository or the source archive.

A capture travels with the content (``<content>/captures/<archive>.txt``) only when its source's
licence allows redistribution (``may_travel``: the licences of ``REDISTRIBUTABLE_LICENCES``); every
other capture belongs in the source archive folder (``KB_SOURCE_ARCHIVE``), outside the repository,
and the content keeps only its fingerprint. ``place_captures`` is what ``export_content`` runs: it
writes each capture this server holds and neither place has yet where it belongs, and says what
it could not write and how to keep it.
"""

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from kb.evidence.captures import CaptureError, archive_file, from_file
from kb.knowledge.models import Capture

CAPTURES_DIR = "captures"  # under the content directory
MANIFEST = "manifest.toml"

# Licences that let anyone redistribute the text (with attribution where they ask for it). Spelled
# as the content spells them, compared without case, spaces, hyphens or a "License" suffix.
# Not here: no licence at all (all rights reserved), non-commercial (NC) or no-derivatives (ND) terms.
REDISTRIBUTABLE_LICENCES = (
    "MIT", "ISC", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "PSF-2.0", "Zlib", "Unlicense",
    "CC0-1.0", "CC BY 2.0", "CC BY 2.5", "CC BY 3.0", "CC BY 4.0", "CC BY-SA 3.0", "CC BY-SA 4.0",
    "Public domain",
)  # fmt: skip

_SPELLING = re.compile(r"[\s_\-]+|licen[cs]e$")


def _key(licence):
    return _SPELLING.sub("", licence.strip().lower())


_ALLOWED = {_key(licence) for licence in REDISTRIBUTABLE_LICENCES}


def may_travel(licence):
    """True when a text under ``licence`` (a source's ``licence`` field) may be copied into the repository."""
    return bool(licence) and _key(licence) in _ALLOWED


@dataclass
class Placement:
    source: str  # slug
    name: str  # file name without .txt
    path: Path | None = None  # where it was written, or None
    note: str = ""  # why it was not written, and how to keep it

    @property
    def written(self):
        return self.path is not None


def _same_text(path, sha256):
    """True when the capture file at ``path`` (read as import_captures reads it) has fingerprint ``sha256``."""
    if path is None:
        return False
    try:
        return from_file(path).fingerprint[0] == sha256
    except CaptureError:
        return False


def _record_origin(folder, name, capture, licence):
    """List an editor's capture in the manifest with where it came from (no release makes it again)."""
    if _manifest_entry(folder, name) is not None:
        return
    manifest = folder / MANIFEST
    text = manifest.read_text(encoding="utf-8") if manifest.exists() else ""
    header = f"[captures.{json.dumps(name)}]"
    entry = (
        f"\n{header}\n# An editor's capture (export_content): no release makes it again; this is where it came from.\n"
        f"origin = {json.dumps(capture.origin)}\nextractor = {json.dumps(capture.extractor)}\n"
        f"captured = {timezone.localdate(capture.captured_at).isoformat()}\nlicence = {json.dumps(licence)}\n"
    )
    manifest.write_text(text + entry, encoding="utf-8")


def place_captures(content_dir, archive_dir):
    """Write every capture this server holds that is in neither the repository nor the archive.

    Only a capture that is the one the content names (or any, when it names none yet) is written.
    A source without an archive name gets its slug as one (``export_content`` then writes it).
    Returns a ``Placement`` per capture that was missing: written, or with a note saying why not.
    """
    bundled = Path(content_dir) / CAPTURES_DIR
    archive = Path(archive_dir) if archive_dir else None
    placements = []
    for capture in Capture.objects.select_related("source").order_by("source__slug"):
        source = capture.source
        if source.capture_sha256 and source.capture_sha256 != capture.sha256:
            continue  # a stale capture: the content names another text
        name = source.archive or source.slug
        try:
            if _same_text(archive_file(bundled, name), capture.sha256) or (
                archive and _same_text(archive_file(archive, name), capture.sha256)
            ):
                continue
        except CaptureError as error:  # a symbolic link where its file belongs: never written through
            note = f"The capture of {source.slug} (SHA-256 {capture.sha256}) was not written: {error}"
            placements.append(Placement(source.slug, name, note=note))
            continue
        if not source.archive:
            source.archive = name
            source._change_reason = "capture file named for export"
            source.save()
        placement = Placement(source.slug, name)
        travels = may_travel(source.licence)
        folder = bundled if travels else archive
        target = folder / f"{name}.txt" if folder else None
        if target is None:
            placement.note = (
                f"The capture of {source.slug} (SHA-256 {capture.sha256}) was not written anywhere: its licence "
                f"({source.licence or 'none given'}) does not allow it in the repository, and no archive folder "
                f"is set. Set KB_SOURCE_ARCHIVE to the source archive folder and run export_content again; until "
                f"then it is only in this database (backup_db keeps it), and other clones show its quotes as "
                f"captured elsewhere."
            )
        elif target.exists() and (not travels or _is_made_by_a_release(bundled, name)):
            placement.note = (
                f"The capture of {source.slug} (SHA-256 {capture.sha256}) was not written: {target} holds "
                f"another text. Compare the two, then move that file aside and run export_content again."
            )
        else:
            folder.mkdir(parents=True, exist_ok=True)
            target.write_text(capture.text + "\n", encoding="utf-8")
            if travels:
                _record_origin(bundled, name, capture, source.licence)
            placement.path = target
        placements.append(placement)
    return placements


def _manifest_entry(folder, name):
    manifest = folder / MANIFEST
    if not manifest.exists():
        return None
    return tomllib.loads(manifest.read_text(encoding="utf-8")).get("captures", {}).get(name)


def _is_made_by_a_release(folder, name):
    return "release" in (_manifest_entry(folder, name) or {})
