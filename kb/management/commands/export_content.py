from django.conf import settings
from django.core.management.base import BaseCommand

from kb.content.exporter import export_content
from kb.evidence.capture_files import place_captures


class Command(BaseCommand):
    help = (
        "Write the database back as content files into DIR (the editors' work returns to the repository), "
        "and each capture the database holds that is not kept anywhere yet where it belongs: DIR/captures when "
        "its source's licence allows redistribution, else the archive folder KB_SOURCE_ARCHIVE."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory")

    def handle(self, *args, directory, **options):
        placements = place_captures(directory, settings.KB_SOURCE_ARCHIVE)  # first: it may name a capture file
        written, unchanged, removed = export_content(directory)
        if options["verbosity"] > 1:
            for path in written:
                self.stdout.write(f"wrote {path}")
            for path in removed:
                self.stdout.write(f"removed {path}")
        self.stdout.write(f"{len(written)} written, {len(unchanged)} unchanged, {len(removed)} removed.")
        for placement in placements:
            if placement.written:
                self.stdout.write(f"Capture of {placement.source} written to {placement.path}.")
            else:
                self.stderr.write(self.style.WARNING(placement.note))
