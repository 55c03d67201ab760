"""What readers are told about a snippet's last run and an excerpt's verification."""

from django.db.models import OuterRef, Subquery
from django.utils import formats

from kb.evidence.verification import text_fragment
from kb.knowledge import models as m


def with_last_run(snippets):
    """``snippets`` (a queryset) annotated with the primary key of each one's latest run."""
    latest = m.SnippetRun.objects.filter(snippet=OuterRef("pk")).latest_first().values("pk")[:1]
    return snippets.annotate(last_run_id=Subquery(latest))


def attach_last_runs(snippets):
    """Set ``snippet.last_run`` (or None) on each snippet of a ``with_last_run`` queryset, in one query."""
    snippets = list(snippets)
    runs = m.SnippetRun.objects.in_bulk([s.last_run_id for s in snippets if s.last_run_id])
    for snippet in snippets:
        snippet.last_run = runs.get(snippet.last_run_id)
        snippet.run_record = run_record(snippet)
    return snippets


def _versions(run):
    items = list(run.versions.items())
    return " and ".join(f"{name} {version}" for name, version in items[:1]) if items else ""


def _record(state, text, short, versions="", error="", run=None):
    """Every record has the same keys, so a template reads any of them whatever the state."""
    return {"state": state, "text": text, "short": short, "versions": versions, "error": error, "run": run}


def run_record(snippet):
    """(state, sentence) for a reader: passed, failed, not-run or none, said plainly."""
    if not snippet.runnable:
        return _record(
            "not-runnable", f"Not runnable on its own: {snippet.not_runnable_reason}", "not runnable on its own"
        )
    run = getattr(snippet, "last_run", None)
    if run is None:
        return _record("none", "Not run yet.", "not run yet")
    when = formats.date_format(run.ran_at, "j F Y")
    with_versions = f" with {_versions(run)}" if run.versions else ""
    all_versions = ", ".join(f"{name} {version}" for name, version in run.versions.items())
    if run.outcome == m.RunOutcome.PASSED:
        text, short = f"Ran without error{with_versions} on {when}.", f"ran without error on {when}"
    elif run.outcome == m.RunOutcome.FAILED:
        text, short = f"Failed when run{with_versions} on {when}.", f"failed on {when}"
    else:
        text, short = f"Not run here: there is no runner for {snippet.get_language_display()}.", "not run here"
    return _record(run.outcome, text, short, versions=all_versions, error=run.error, run=run)


def excerpt_context(excerpts, source):
    """Set ``excerpt.fragment_url`` (a link to the passage on the live page, when the source has a URL)."""
    for excerpt in excerpts:
        excerpt.fragment_url = text_fragment(source.url, excerpt.text) if source.url else ""
    return excerpts
