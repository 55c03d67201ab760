from django.core.management.base import BaseCommand, CommandError

from kb.ops.backup import ENGINE_NAMES, BackupError, describe, restore_database, target_settings


class Command(BaseCommand):
    help = (
        "Restore a backup made by backup_db into a fresh database (default: the configured one), "
        "then move the content generation on so no page cached before the restore is served."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a backup written by backup_db")
        parser.add_argument(
            "--database-url",
            help="restore into this database instead of the configured one (e.g. postgres://user@host/kb_new)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="restore even if the target already has tables (they are replaced)",
        )

    def handle(self, *args, file, database_url, force, **options):
        try:
            target = target_settings(database_url)
            result = restore_database(file, target, force=force)
        except BackupError as error:
            raise CommandError(str(error)) from None
        for note in result.notes:
            self.stderr.write(note)
        self.stdout.write(
            self.style.SUCCESS(
                f"{ENGINE_NAMES[result.engine]} backup {result.path} restored into {describe(target)} "
                f"({result.tables} tables, {result.seconds:.1f} s)."
            )
        )
        if result.generation is not None:
            self.stdout.write(f"Content generation set to {result.generation}: cached pages will not be served.")
