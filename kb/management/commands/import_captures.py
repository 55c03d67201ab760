from datetime import UTC, datetime, time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kb.evidence import captures
from kb.evidence.verification import verify_all
from kb.knowledge.models import Capture, Source, Verification
from kb.knowledge.signals import bulk_write, content_changed


class Command(BaseCommand):
    help = (
        "Store the capture of every source whose archive file (<archive>.txt) is in one of the folders DIR, "
        "checking each against the fingerprint the content recorded; a source with no fingerprint yet gets "
        "one. Folders are searched in the order given: the first that holds a source's file gives its capture "
        "(so content/captures, the captures that travel with the content, comes before an archive)."
    )

    def add_arguments(self, parser):
        parser.add_argument("directories", nargs="+", metavar="DIR", help="Folder of captured texts.")

    def handle(self, *args, directories, **options):
        folders = [Path(directory) for directory in directories]
        for folder in folders:
            if not folder.is_dir():
                raise CommandError(f"{folder}: no such folder of captured texts")
        stored, same, mismatches = [], 0, []
        with bulk_write():  # one transaction, one content version bump at its end
            existing = dict(Capture.objects.values_list("source_id", "sha256"))
            for source in Source.objects.exclude(archive="").order_by("slug"):
                try:
                    path = captures.first_archive_file(folders, source.archive)
                    if path is None:
                        continue
                    extracted = captures.from_file(path)
                except captures.CaptureError as error:
                    raise CommandError(f"{source.slug}: {error}") from None
                sha256, characters = extracted.fingerprint
                if source.capture_sha256 and source.capture_sha256 != sha256:
                    mismatches.append(
                        f"{source.slug}: {path} has fingerprint {sha256} ({characters} characters), "
                        f"but the content expects {source.capture_sha256} ({source.capture_characters} characters)"
                    )
                    continue
                if not source.capture_sha256:  # derived from the folder, not an editor's change: no history
                    Source.objects.filter(pk=source.pk).update(
                        capture_sha256=sha256, capture_characters=characters,
                        captured=source.captured or timezone.localdate(),
                    )  # fmt: skip
                    content_changed(sources=[source.pk])  # citations show the capture date
                    source.refresh_from_db()
                if existing.get(source.pk) == sha256:
                    same += 1
                    continue
                # The capture date the content records, when it records one; else now.
                when = datetime.combine(source.captured, time(), tzinfo=UTC) if source.captured else None
                captures.store_capture(  # verified below, with every other excerpt
                    source, extracted, replace=True, captured_at=when, record_fingerprint=False, verify=False
                )
                stored.append(source.slug)
            if mismatches:
                raise CommandError("Captures that differ from the content:\n  " + "\n  ".join(mismatches))
            counts = verify_all()
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(stored)} captures stored, {same} unchanged, from {', '.join(map(str, folders))}. Excerpts: "
                f"{counts[Verification.VERIFIED]} verified, {counts[Verification.UNVERIFIED]} unverified, "
                f"{counts[Verification.MISMATCH]} not found in their capture."
            )
        )
