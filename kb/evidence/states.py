"""The honest state of a quote: the one decision every page, feed and export shows.

A quote (an excerpt) is, on this server:

- **verified**: found word for word in a capture of its source that this server holds;
- **captured elsewhere**: the content records a capture of its source (its fingerprint and
  date) but this server holds no copy of it, so nothing here checked the quote; anyone with
  the capture can (its SHA-256 proves it is the same text);
- **never captured**: no capture of its source was ever recorded, so nothing checks it;
- **not found**: this server's capture does not contain it (``verify_content`` fails on it).

``quote_status(excerpt)`` takes an ``Excerpt`` (with its ``source``) or any object with the same
attributes (``verification``, ``verified_sha256`` and a ``source`` with ``capture_sha256``,
``capture_characters``, ``captured``, ``archive``, ``url``; missing ones count as empty), so the
comparison's read model can call it on its own records; ``quote_state(...)`` gives the state alone,
a string (``"verified"``, ``"captured-elsewhere"``, ``"never-captured"``, ``"not-found"``) for
JSON and CSV.
"""

import enum
from dataclasses import dataclass
from datetime import date, datetime

from django.template.defaultfilters import date as format_date

from kb.knowledge.models import Verification


class QuoteState(enum.StrEnum):
    VERIFIED = "verified"
    CAPTURED_ELSEWHERE = "captured-elsewhere"
    NEVER_CAPTURED = "never-captured"
    NOT_FOUND = "not-found"

    @property
    def label(self):
        return LABELS[self]


LABELS = {
    QuoteState.VERIFIED: "Verified",
    QuoteState.CAPTURED_ELSEWHERE: "Captured elsewhere",
    QuoteState.NEVER_CAPTURED: "Never captured",
    QuoteState.NOT_FOUND: "Not found in the capture",
}

# How a capture reaches a server that lacks it (the README's "Captures and verification").
HOW_TO_GET = (
    "put the capture {archive}.txt in the source archive folder (KB_SOURCE_ARCHIVE) and run "
    "manage.py import_captures content/captures ARCHIVE"
)


def state_of(verification, capture_recorded):
    """The state from an excerpt's ``verification`` and whether its source's content records a capture."""
    if verification == Verification.VERIFIED:
        return QuoteState.VERIFIED
    if verification == Verification.MISMATCH:
        return QuoteState.NOT_FOUND
    return QuoteState.CAPTURED_ELSEWHERE if capture_recorded else QuoteState.NEVER_CAPTURED


def _day(value):
    return value.date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class QuoteStatus:
    state: QuoteState
    sha256: str = ""  # verified/not found: the capture checked; captured elsewhere: the content's fingerprint
    characters: int | None = None
    captured: date | None = None
    archive: str = ""

    @property
    def label(self):
        return self.state.label

    @property
    def short_sha(self):
        return self.sha256[:12]

    @property
    def how_to_get(self):
        """For a quote captured elsewhere: how to bring the capture to this server ("" otherwise)."""
        if self.state != QuoteState.CAPTURED_ELSEWHERE or not self.archive:
            return ""
        return HOW_TO_GET.format(archive=self.archive)

    @property
    def explanation(self):
        """One or two sentences for a reader: what was checked, against what, or why nothing was."""
        on = f" of {format_date(self.captured, 'j F Y')}" if self.captured else ""
        sha = f" (SHA-256 {self.sha256})" if self.sha256 else ""
        if self.state == QuoteState.VERIFIED:
            return f"Found word for word in the capture{on}{sha}, held by this server."
        if self.state == QuoteState.NOT_FOUND:
            return f"Not found word for word in this server's capture{on}{sha}."
        if self.state == QuoteState.CAPTURED_ELSEWHERE:
            made = f" on {format_date(self.captured, 'j F Y')}" if self.captured else ""
            size = f", {self.characters} characters" if self.characters else ""
            text = (
                f"A capture of this source was made{made}{f' (SHA-256 {self.sha256}{size})' if self.sha256 else ''}, "
                "but this server holds no copy, so the quote is not checked here; anyone holding that capture "
                "can check it."
            )
            return f"{text} To check it here, {self.how_to_get}." if self.how_to_get else text
        return "No capture of this source has been made, so nothing checks this quote."


def _recorded(source):
    """(the capture fingerprint the content records for ``source``, its capture day, whether it records one)."""
    recorded_sha = getattr(source, "capture_sha256", "") or ""
    captured = _day(getattr(source, "captured", None))
    return recorded_sha, captured, bool(recorded_sha or captured)


def quote_status(excerpt, source=None):
    """The ``QuoteStatus`` of ``excerpt`` (its source read from ``excerpt.source`` unless given)."""
    source = source if source is not None else excerpt.source
    recorded_sha, captured, recorded = _recorded(source)
    state = state_of(getattr(excerpt, "verification", ""), recorded)
    if state == QuoteState.NEVER_CAPTURED:
        return QuoteStatus(state)
    checked = state in (QuoteState.VERIFIED, QuoteState.NOT_FOUND)
    sha256 = (getattr(excerpt, "verified_sha256", "") or recorded_sha) if checked else recorded_sha
    return QuoteStatus(
        state=state,
        sha256=sha256,
        characters=getattr(source, "capture_characters", None),
        captured=captured,
        archive=getattr(source, "archive", "") or "",
    )


def quote_state(excerpt, source=None):
    """The state alone (a ``QuoteState``, a str), for JSON and CSV."""
    source = source if source is not None else excerpt.source
    return state_of(getattr(excerpt, "verification", ""), _recorded(source)[2])


def capture_status(source, held_sha256):
    """What this server holds of ``source``'s capture, as the state its quotes can have.

    ``held_sha256``: the fingerprint of the capture this server stores ("" or None for none).
    Verified: it holds the capture the content names (or any, when the content names none yet);
    captured elsewhere: the content names a capture this server does not hold; never captured.
    """
    recorded_sha, captured, recorded = _recorded(source)
    held = bool(held_sha256) and held_sha256 == (recorded_sha or held_sha256)
    state = QuoteState.VERIFIED if held else state_of("", recorded)
    if state == QuoteState.NEVER_CAPTURED:
        return QuoteStatus(state)
    return QuoteStatus(
        state=state,
        sha256=held_sha256 if held else recorded_sha,
        characters=getattr(source, "capture_characters", None),
        captured=captured,
        archive=getattr(source, "archive", "") or "",
    )
