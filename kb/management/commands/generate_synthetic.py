import sys

from django.core.management.base import BaseCommand, CommandError

from kb.knowledge.synthetic import Size, generate


def positive(value):
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Build a reproducible synthetic knowledge base (slugs synthetic-1, synthetic-2, …) for benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--subjects", type=positive, default=10)
        parser.add_argument("--dimensions", type=positive, default=100)
        parser.add_argument("--claims-per-cell", type=positive, default=1)
        parser.add_argument("--excerpts-per-claim", type=positive, default=1)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **options):
        size = Size(
            subjects=options["subjects"],
            dimensions=options["dimensions"],
            claims_per_cell=options["claims_per_cell"],
            excerpts_per_claim=options["excerpts_per_claim"],
            seed=options["seed"],
        )
        if size.subjects * size.dimensions * size.claims_per_cell > 5_000_000:
            raise CommandError("That is more than five million claims; choose a smaller size.")
        show = options["verbosity"] > 0
        counts = generate(size, progress=self.progress if show else lambda *a: None)
        if show:
            sys.stdout.write("\n")
        self.stdout.write(", ".join(f"{number} {name}" for name, number in counts.items()))

    def progress(self, label, done, total):
        width = 30
        filled = width * done // total if total else width
        self.stdout.write(f"\r{label:<11} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
        self.stdout.flush()
        if done >= total:
            self.stdout.write("")
