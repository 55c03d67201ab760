from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kb.content.loader import load_content
from kb.content.yamlio import ContentError


class Command(BaseCommand):
    help = "Make the database equal to a content directory (default: content/), in one transaction."

    def add_arguments(self, parser):
        parser.add_argument("directory", nargs="?", default=str(settings.KB_CONTENT_DIR))
        parser.add_argument(
            "--force",
            action="store_true",
            help="Overwrite or delete records changed in the admin since the last load or export.",
        )

    def handle(self, *args, directory, force, **options):
        progress = self.stdout.write if options["verbosity"] > 1 else None
        try:
            report = load_content(directory, force=force, progress=progress)
        except ContentError as error:
            raise CommandError(f"{error}\nNothing was loaded; the database is unchanged.") from None
        if options["verbosity"] > 0:
            for line in report.lines():
                self.stdout.write(line)
            self.stdout.write(self.style.SUCCESS("Loaded." if report.changed else "Nothing changed."))
