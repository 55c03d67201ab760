import os
from concurrent.futures import ThreadPoolExecutor

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from kb.evidence import snippet_runners as runners
from kb.evidence.run_records import RUN_FIELDS, record_values, stale_reasons
from kb.knowledge.models import RunOutcome, Snippet, SubjectRunner
from kb.knowledge.signals import bulk_write, content_changed


def piece(snippet):
    return runners.Piece(
        snippet.task.slug, snippet.subject.slug, snippet.language, snippet.code, snippet.path, snippet.check_code,
        snippet.runnable,
    )  # fmt: skip


def subject_runners():
    """{(subject slug, language): (runner, driver)}, as the subjects' content names them."""
    return {(r.subject.slug, r.language): (r.runner, r.driver) for r in SubjectRunner.objects.select_related("subject")}


class Command(BaseCommand):
    help = (
        "Run every runnable snippet where its subject runs (each in a clean subprocess with a time limit, under "
        "its subject's driver and its own check) and compare each run with the snippet's recorded run: fails on "
        "a failed run or a record that no longer matches. --record stores the runs as the snippets' records "
        "(then export_content writes them to the files)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--task", action="append", help="Only the snippets of this task (repeatable).")
        parser.add_argument("--timeout", type=int, default=runners.RUN_TIMEOUT, help="Seconds for each snippet.")
        parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="Snippets run at the same time.")
        parser.add_argument("--record", action="store_true", help="Store the runs as the snippets' recorded runs.")

    def handle(self, *args, task, timeout, jobs, record, **options):
        snippets = list(Snippet.objects.select_related("task", "subject").filter(runnable=True).order_by("pk"))
        if task:
            snippets = [s for s in snippets if s.task.slug in task]
        by_label = {piece(s).label: s for s in snippets}
        plans = runners.plan_runs([piece(s) for s in snippets], subject_runners())
        programs = {plan.program.label: plan.program for plan in plans if plan.program and not plan.file_of}
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {label: pool.submit(runners.run, program, timeout) for label, program in programs.items()}
            outcomes = {label: future.result() for label, future in futures.items()}
        now = timezone.now().replace(microsecond=0)
        results = []  # (snippet, outcome, fingerprint, runner)
        for plan in plans:
            snippet = by_label[plan.piece.label]
            if plan.not_run:
                results.append((snippet, runners.Outcome(runners.NOT_RUN, error=plan.not_run), "", ""))
            elif plan.file_of:
                outcome = outcomes[plan.file_of]
                runner = f"{outcome.runner} (as {plan.piece.path} of the {snippet.subject.name} program)"
                results.append((snippet, outcome, plan.program.fingerprint, runner))
            else:
                results.append((snippet, outcomes[plan.piece.label], plan.program.fingerprint, ""))
        failed = [(s, o) for s, o, _, _ in results if o.outcome == RunOutcome.FAILED]
        stale = []
        if record:
            self.record(results, now)
        else:
            stale = [(s, reasons) for s, o, f, r in results if (reasons := stale_reasons(s, o, f, r))]
        counts = {value: sum(o.outcome == value for _, o, _, _ in results) for value in RunOutcome.values}
        for snippet, outcome in failed:
            self.stderr.write(f"FAILED {piece(snippet).label} ({outcome.runner}):\n{outcome.error}")
        for snippet, reasons in stale:
            self.stderr.write(f"RECORD NO LONGER MATCHES {piece(snippet).label}: {'; '.join(reasons)}")
        summary = (
            f"{len(results)} runnable snippets: {counts[RunOutcome.PASSED]} passed, {counts[RunOutcome.FAILED]} "
            f"failed, {counts[RunOutcome.NOT_RUN]} not run here"
        )
        summary += ", runs recorded." if record else f", {len(stale)} with a record that no longer matches."
        if stale:
            summary += " Run verify_snippets --record, then export_content content/ and commit."
        if failed or stale:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))

    @staticmethod
    def record(results, now):
        """Store each run as its snippet's recorded run (content: export_content writes it to the files)."""
        changed = []
        for snippet, outcome, fingerprint, runner in results:
            values = record_values(outcome, fingerprint, now, runner)
            if stale_reasons(snippet, outcome, fingerprint, runner) or snippet.ran is None:
                for name, value in values.items():
                    setattr(snippet, name, value)
                snippet._change_reason = "verify_snippets --record"
                changed.append(snippet)
        with transaction.atomic(), bulk_write():
            bulk_update_with_history(changed, Snippet, list(RUN_FIELDS), batch_size=500)
            if changed:
                content_changed()
