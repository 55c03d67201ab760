from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from kb.content.files import read_content
from kb.content.yamlio import ContentError
from kb.evidence import captures
from kb.evidence.quotes import closest_passage
from kb.evidence.verification import SourceCapture, source_captures
from kb.knowledge.models import Excerpt, Source


class Command(BaseCommand):
    help = (
        "Check every excerpt of the content files against its source's stored capture (or, with --sources, "
        "the <archive>.txt files of a folder). Reports how many are verified and unverified; fails on any "
        "excerpt not found in its capture and on any capture whose fingerprint differs from the content."
    )

    def add_arguments(self, parser):
        parser.add_argument("--content", default=str(settings.KB_CONTENT_DIR), help="Content directory.")
        parser.add_argument(
            "--sources",
            action="append",
            help="Check against the <archive>.txt files of this folder instead of the database (repeat it: the "
            "first folder that holds a source's file gives its capture, e.g. content/captures, then the archive).",
        )
        parser.add_argument(
            "--require-verified", action="store_true", help="Fail when any excerpt is unverified (no capture)."
        )

    def handle(self, *args, content, sources, require_verified, **options):
        try:
            rows = read_content(content).rows
        except ContentError as error:
            raise CommandError(str(error)) from None
        expected = {row.key[0]: row.values["capture_sha256"] for row in rows[Source]}
        found = self.from_folders([Path(s) for s in sources], rows[Source]) if sources else self.from_database(expected)
        problems, verified, unverified = [], 0, {}
        for row in rows[Source]:
            capture = found[row.key[0]]
            if capture.stale:
                problems.append(
                    row.error(f"the capture's fingerprint {capture.sha256} differs from {capture.expected_sha256}")
                )
        for row in rows[Excerpt]:
            capture = found[row.key[0][0]]
            if not capture.usable:
                unverified.setdefault(capture.reason, []).append(row)
            elif capture.captured.contains(row.values["text"]):
                verified += 1
            else:
                closest = closest_passage(row.values["text"], capture.captured.text)
                problems.append(row.error(f"not found word for word in its source's capture; closest: {closest!r}"))
        for problem in problems:
            self.stderr.write(str(problem))
        total = len(rows[Excerpt])
        reasons = "; ".join(f"{len(rs)} with {reason}" for reason, rs in sorted(unverified.items()))
        summary = (
            f"{total} excerpts: {verified} verified, {sum(map(len, unverified.values()))} unverified"
            f"{f' ({reasons})' if reasons else ''}, {len(problems)} problems."
        )
        if problems:
            raise CommandError(summary)
        if require_verified and unverified:
            for rs in unverified.values():
                for row in rs[:20]:
                    self.stderr.write(str(row.error("unverified")))
            raise CommandError(f"{summary} Every excerpt must be verified (--require-verified).")
        self.stdout.write(self.style.SUCCESS(summary))

    def from_folders(self, folders, source_rows):
        for folder in folders:
            if not folder.is_dir():
                raise CommandError(f"{folder}: no such folder of captured texts")
        found = {}
        for row in source_rows:
            slug, archive = row.key[0], row.values["archive"]
            capture = SourceCapture(slug, row.values["capture_sha256"])
            try:
                path = captures.first_archive_file(folders, archive)
                extracted = captures.from_file(path) if path is not None else None
            except captures.CaptureError as error:
                raise CommandError(str(error)) from None
            if extracted is not None:
                capture.sha256, capture.text = extracted.fingerprint[0], extracted.text
            found[slug] = capture
        return found

    def from_database(self, expected):
        try:
            stored = source_captures(list(expected))
        except DatabaseError as error:
            raise CommandError(
                f"Cannot read the stored captures ({error}): run migrate and load_content first."
            ) from None
        found = {}
        for slug, sha in expected.items():
            capture = stored.get(slug) or SourceCapture(slug, sha)
            capture.expected_sha256 = sha  # what the files say, whatever the database holds
            found[slug] = capture
        return found
