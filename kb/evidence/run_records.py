"""What readers are told about a snippet's recorded run and an excerpt's verification, and when a record is stale."""

from django.utils import formats

from kb.evidence.snippet_runners import NOT_RUN, is_pinned
from kb.evidence.verification import text_fragment
from kb.knowledge import models as m

# The snippet fields that record its last run (record_values gives them in this order).
RUN_FIELDS = ("ran", "run_outcome", "run_runner", "run_versions", "run_fingerprint", "run_error")


def _record(state, text, short, versions="", runner="", error=""):
    """Every record has the same keys, so a template reads any of them whatever the state."""
    return {"state": state, "text": text, "short": short, "versions": versions, "runner": runner, "error": error}


def run_record(snippet):
    """(state, sentence) for a reader: passed, failed, not-run or none, said plainly, with the runner."""
    if not snippet.runnable:
        return _record(
            "not-runnable", f"Not runnable on its own: {snippet.not_runnable_reason}", "not runnable on its own"
        )
    if snippet.ran is None:
        return _record("none", "Not run yet.", "not run yet")
    when = formats.date_format(snippet.ran, "j F Y")
    versions = snippet.run_versions
    with_versions = f" with {versions[0][0]} {versions[0][1]}" if versions else ""
    if snippet.run_outcome == m.RunOutcome.PASSED:
        text, short = f"Ran without error{with_versions} on {when}.", f"ran without error on {when}"
    elif snippet.run_outcome == m.RunOutcome.FAILED:
        text, short = f"Failed when run{with_versions} on {when}.", f"failed on {when}"
    else:
        reason = snippet.run_error or f"there is no runner for {snippet.get_language_display()}"
        text, short = f"Not run here: {reason}.", "not run here"
    error = snippet.run_error if snippet.run_outcome != NOT_RUN else ""
    return _record(snippet.run_outcome, text, short, snippet.run_versions_text, snippet.run_runner, error)


def record_values(outcome, fingerprint, ran, runner=""):
    """The snippet fields that record ``outcome`` (a runners.Outcome) as its last run."""
    versions = [list(pair) for pair in outcome.versions]
    values = (ran, outcome.outcome, runner or outcome.runner, versions, fingerprint, outcome.error)
    return dict(zip(RUN_FIELDS, values, strict=True))


def _loose(version):
    """A platform's version (Python, a system library, a server) up to its last part: 3.11.2 -> 3.11."""
    parts = version.split(".")
    return ".".join(parts[:-1]) if len(parts) > 1 else version


def stale_reasons(snippet, outcome, fingerprint, runner=""):
    """Why ``snippet``'s recorded run no longer matches a fresh ``outcome``: [] when it still does.

    A fresh run that could not happen here (no engine) contradicts nothing. Versions of installed
    distributions must match exactly; a platform's (Python, SQLite, a PostgreSQL server) up to its last part.
    """
    if outcome.outcome == NOT_RUN and snippet.run_outcome != NOT_RUN and snippet.ran is not None:
        return []
    if snippet.ran is None:
        return ["it has no recorded run"]
    reasons = []
    if snippet.run_fingerprint != fingerprint:
        reasons.append("what runs (code, files, driver or check) changed since the recorded run")
    if snippet.run_outcome != outcome.outcome:
        reasons.append(f"the record says {snippet.run_outcome}, the run {outcome.outcome}")
    if snippet.run_runner != (runner or outcome.runner):
        reasons.append(f"the record names the runner {snippet.run_runner!r}, the run {runner or outcome.runner!r}")
    recorded, fresh = dict(snippet.run_versions), dict(outcome.versions)
    for name in dict.fromkeys([*recorded, *fresh]):
        old, new = recorded.get(name), fresh.get(name)
        same = old == new if is_pinned(name) or None in (old, new) else _loose(old) == _loose(new)
        if not same:
            reasons.append(f"{name}: recorded {old or 'absent'}, now {new or 'absent'}")
    return reasons


def excerpt_context(excerpts, source):
    """Set ``excerpt.fragment_url`` (a link to the passage on the live page, when the source has a URL)."""
    for excerpt in excerpts:
        excerpt.fragment_url = text_fragment(source.url, excerpt.text) if source.url else ""
    return excerpts
