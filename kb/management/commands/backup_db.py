from django.core.management.base import BaseCommand, CommandError

from kb.ops.backup import ENGINE_NAMES, BackupError, backup_database


class Command(BaseCommand):
    help = (
        "Back up the whole database into FILE with the engine's own tool: pg_dump --format=custom "
        "for PostgreSQL, the online backup API for SQLite. Safe while the site runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="where to write the backup (replaced only once it is complete)")
        parser.add_argument("--database", default="default", help="database alias (default: default)")

    def handle(self, *args, file, database, **options):
        try:
            result = backup_database(file, using=database)
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{ENGINE_NAMES[result.engine]} backup written to {result.path} "
                f"({result.size:,} bytes, {result.seconds:.1f} s)."
            )
        )
