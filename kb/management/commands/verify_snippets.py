import os
from concurrent.futures import ThreadPoolExecutor

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kb.evidence import snippet_runners as runners
from kb.knowledge.models import RunOutcome, Snippet, SnippetRun


def programs(snippets):
    """A ``runners.Program`` for each snippet, with the code of its task's other snippets for the same subject."""
    by_pair = {}
    for snippet in snippets:
        by_pair.setdefault((snippet.task.slug, snippet.subject.slug), {})[snippet.language] = snippet.code
    return {
        snippet.pk: runners.Program(
            snippet.task.slug,
            snippet.subject.slug,
            snippet.language,
            snippet.code,
            by_pair[(snippet.task.slug, snippet.subject.slug)],
        )
        for snippet in snippets
    }


KEEP_RUNS = 20


class Command(BaseCommand):
    help = (
        "Run every runnable snippet in a clean subprocess with a time limit (Python programs, SQL against an "
        "in-memory SQLite database) and store each run: outcome, package versions, when, how long, the error. "
        "Templates a program writes beside itself get that program's run; other languages are not run here."
    )

    def add_arguments(self, parser):
        parser.add_argument("--task", action="append", help="Only the snippets of this task (repeatable).")
        parser.add_argument("--timeout", type=int, default=runners.RUN_TIMEOUT, help="Seconds for each snippet.")
        parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="Snippets run at the same time.")
        parser.add_argument("--keep", type=int, default=KEEP_RUNS, help="Runs kept: those of the last N rounds.")

    def handle(self, *args, task, timeout, jobs, keep, **options):
        snippets = list(Snippet.objects.select_related("task", "subject").filter(runnable=True).order_by("pk"))
        if task:
            snippets = [s for s in snippets if s.task.slug in task]
        progs = programs(snippets)
        runnable = [s for s in snippets if runners.has_runner(s.language)]
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {s.pk: pool.submit(runners.run, progs[s.pk], timeout) for s in runnable}
            outcomes = {pk: future.result() for pk, future in futures.items()}
        now = timezone.now()
        by_program = {(s.task.slug, s.subject.slug, s.language): s.pk for s in runnable}
        runs, failed = [], []
        for snippet in snippets:
            outcome = outcomes.get(snippet.pk)
            runner = ""
            if outcome is None:
                # A template is run by the program that writes it beside itself.
                key = (snippet.task.slug, snippet.subject.slug, "python")
                if key in by_program and snippet.language in runners.template_files(*key[:2]):
                    outcome = outcomes[by_program[key]]
                    runner = f"{outcome.runner} (as a template of the {snippet.subject.name} program)"
                else:
                    outcome = runners.run(progs[snippet.pk])
            runs.append(
                SnippetRun(
                    snippet=snippet,
                    outcome=outcome.outcome,
                    runner=runner or outcome.runner,
                    versions=outcome.versions,
                    ran_at=now,
                    duration_ms=outcome.duration_ms,
                    error=outcome.error,
                )
            )
            if outcome.outcome == RunOutcome.FAILED:
                failed.append((snippet, outcome))
        SnippetRun.objects.bulk_create(runs)
        self.prune(keep)
        counts = {value: sum(run.outcome == value for run in runs) for value in RunOutcome.values}
        for snippet, outcome in failed:
            self.stderr.write(f"FAILED {snippet.task.slug}/{snippet.subject.slug}/{snippet.language}:\n{outcome.error}")
        summary = (
            f"{len(runs)} runnable snippets: {counts[RunOutcome.PASSED]} passed, {counts[RunOutcome.FAILED]} failed, "
            f"{counts[RunOutcome.NOT_RUN]} not run here (no runner for their language)."
        )
        if failed:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))

    @staticmethod
    def prune(keep):
        """Forget the runs of all but the last ``keep`` rounds (a round's runs share their time)."""
        rounds = SnippetRun.objects.values_list("ran_at", flat=True).distinct().order_by("-ran_at")
        rounds = list(rounds[: max(1, keep)])
        if rounds:
            SnippetRun.objects.filter(ran_at__lt=rounds[-1]).delete()
