"""Check the read model of comparison cells against the content, and mend it (kb.comparison.read_model)."""

from django.core.management.base import BaseCommand, CommandError

from kb.comparison import read_model


class Command(BaseCommand):
    help = (
        "Compare every cell of the read model with the cell computed from the database; rewrite those that "
        "differ (a new content version). Run after a restore; migrate runs it itself."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="only report cells that differ; exit 1 if any")

    def handle(self, *args, check, **options):
        wrong = read_model.check()
        if check:
            if wrong:
                raise CommandError(f"{len(wrong)} cells differ from the content: {wrong[:10]}")
            self.stdout.write("Every cell of the read model matches the content.")
            return
        rewritten = read_model.rebuild(wrong)
        self.stdout.write(f"{len(rewritten.cells)} cells rewritten (content version {rewritten.version}).")
