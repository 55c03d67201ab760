from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kb.content.loader import load_content
from kb.content.yamlio import ContentError


class Command(BaseCommand):
    help = (
        "Bring a content directory (default: content/) into the database, in one transaction: "
        "changes made only in the files are applied, changes made only in the admin are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", nargs="?", default=str(settings.KB_CONTENT_DIR))
        parser.add_argument(
            "--force",
            action="store_true",
            help="Settle records changed both in the admin and in the files by taking the files' version "
            "(the admin's versions it discards are listed).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Make the database exactly the files, discarding (and listing) every change made in the admin.",
        )

    def handle(self, *args, directory, force, reset, **options):
        progress = self.stdout.write if options["verbosity"] > 1 else None
        try:
            report = load_content(directory, force=force, reset=reset, progress=progress)
        except ContentError as error:
            raise CommandError(f"{error}\nNothing was loaded; the database is unchanged.") from None
        if report.discarded:
            self.stderr.write(
                self.style.WARNING(f"Discarded the admin's version of {len(report.discarded)} records (--force):")
            )
            for line in report.discarded_lines():
                self.stderr.write(f"  {line}")
        if report.kept and options["verbosity"] > 0:
            self.stdout.write(
                self.style.WARNING(
                    f"Kept {len(report.kept)} records changed in the admin and not in the files; "
                    f"export_content {directory} writes them to the files:"
                )
            )
            for line in report.kept_lines():
                self.stdout.write(f"  {line}")
        if options["verbosity"] > 0:
            for line in report.lines():
                self.stdout.write(line)
            self.stdout.write(self.style.SUCCESS("Loaded." if report.changed else "Nothing changed."))
