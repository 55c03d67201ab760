from django.core.management.base import BaseCommand

from kb.content.exporter import export_content


class Command(BaseCommand):
    help = "Write the database back as content files into DIR (the editors' work returns to the repository)."

    def add_arguments(self, parser):
        parser.add_argument("directory")

    def handle(self, *args, directory, **options):
        written, unchanged, removed = export_content(directory)
        if options["verbosity"] > 1:
            for path in written:
                self.stdout.write(f"wrote {path}")
            for path in removed:
                self.stdout.write(f"removed {path}")
        self.stdout.write(f"{len(written)} written, {len(unchanged)} unchanged, {len(removed)} removed.")
