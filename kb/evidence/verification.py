"""Checking excerpts against their source's stored capture, and recording the result.

The capture in the database (``Capture``) is the only reference: no folder is read at
request time. A source's capture is *usable* when the content files record no
fingerprint for the source yet, or the same fingerprint; a capture whose fingerprint
differs from the files is stale and checks nothing.

Each excerpt ends up verified (found word for word, whitespace aside, with the
sentence before and after it from the capture), unverified (no usable capture) or, in
the admin only, refused before it is saved.
"""

import bisect
import re
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote

from django.db.models import Q
from django.utils import timezone

from kb.evidence.quotes import closest_passage, normalize
from kb.knowledge import models as m
from kb.knowledge.signals import content_changed

CONTEXT_CHARS = 200  # at most this much context on each side: a sentence, never the text
_TOKEN = re.compile(r"\S+")
_SENTENCE_END = re.compile("[.!?\u2026][\"'\u201d\u2019)\\]]*$")


class CapturedText:
    """A capture's text whitespace-normalised, with where its sentences start."""

    def __init__(self, text):
        parts, starts, position = [], [0], 0
        previous_end = 0
        for match in _TOKEN.finditer(text):
            token = match.group()
            if parts:
                gap = text[previous_end : match.start()]
                position += 1
                if "\n" in gap or _SENTENCE_END.search(parts[-1]):
                    starts.append(position)
            parts.append(token)
            position += len(token)
            previous_end = match.end()
        self.text = " ".join(parts)
        self.starts = starts

    def contains(self, quote_text):
        needle = normalize(quote_text)
        return bool(needle) and needle in self.text

    def context(self, quote_text):
        """(before, after): the sentence before the quote and the one after it, each short."""
        needle = normalize(quote_text)
        start = self.text.find(needle)
        if not needle or start < 0:
            return "", ""
        end = start + len(needle)
        i = bisect.bisect_left(self.starts, start) - 1
        before = self.text[self.starts[i] : start].strip() if i >= 0 else ""
        j = bisect.bisect_right(self.starts, end + 1)
        stop = self.starts[j] if j < len(self.starts) else len(self.text)
        if j < len(self.starts) and not self.text[end:stop].strip():
            stop = self.starts[j + 1] if j + 1 < len(self.starts) else len(self.text)
        after = self.text[end:stop].strip()
        return shorten_left(before), shorten_right(after)


def shorten_right(text, limit=CONTEXT_CHARS):
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit].rstrip() + " …"


def shorten_left(text, limit=CONTEXT_CHARS):
    if len(text) <= limit:
        return text
    cut = text.find(" ", len(text) - limit)
    return "… " + text[cut + 1 if cut >= 0 else len(text) - limit :].lstrip()


# Which capture checks a source ---------------------------------------------------------------


@dataclass
class SourceCapture:
    """What a source's excerpts are checked against, and why not when there is nothing."""

    slug: str
    expected_sha256: str  # the fingerprint the content files (or the source record) name, or ""
    sha256: str = ""  # of the stored capture, or ""
    text: str | None = None

    @property
    def stale(self):
        return bool(self.text is not None and self.expected_sha256 and self.expected_sha256 != self.sha256)

    @property
    def usable(self):
        return self.text is not None and not self.stale

    @property
    def reason(self):
        """Why the excerpts of this source are not verified ("" when they can be)."""
        if self.text is None:
            return "no capture"
        if self.stale:
            return f"capture {self.sha256[:12]} differs from the fingerprint {self.expected_sha256[:12]} in content"
        return ""

    @cached_property
    def captured(self):
        return CapturedText(self.text or "")


def source_capture(source):
    capture = m.Capture.objects.filter(source=source).only("sha256", "text").first()
    return SourceCapture(
        source.slug, source.capture_sha256, capture.sha256 if capture else "", capture.text if capture else None
    )


def source_captures(slugs=None):
    """``SourceCapture`` by source slug for every source (or those of ``slugs``), in two queries."""
    sources = m.Source.objects.all()
    if slugs is not None:
        sources = sources.filter(slug__in=slugs)
    result = {slug: SourceCapture(slug, sha) for slug, sha in sources.values_list("slug", "capture_sha256")}
    captures = m.Capture.objects.filter(source__slug__in=list(result)).values_list("source__slug", "sha256", "text")
    for slug, sha256, text in captures:
        result[slug].sha256, result[slug].text = sha256, text
    return result


def not_quoted_message(source, text, capture):
    passage = whole_words(closest_passage(text, capture.captured.text), capture.captured.text)
    return (
        f"This text is not found word for word in the captured text of “{source.title}” "
        f"(capture {capture.sha256[:12]}). The closest passage of the source reads: “{passage}”"
    )


def whole_words(passage, text):
    """``passage`` widened to whole words of ``text``, with an ellipsis where the text goes on."""
    start = text.find(passage)
    if not passage or start < 0:
        return passage
    end = start + len(passage)
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")


def excerpts_not_in(source, text):
    """Keys of ``source``'s excerpts that ``text`` (a capture) does not quote word for word."""
    captured = CapturedText(text)
    return [key for key, quoted in source.excerpts.values_list("key", "text") if not captured.contains(quoted)]


# Recording ------------------------------------------------------------------------------------------


VERIFICATION_FIELDS = ["verification", "verified_sha256", "verified_at", "context_before", "context_after"]


def apply(excerpt, capture, now):
    """Set ``excerpt``'s verification fields from ``capture``; True when they changed."""
    if capture.usable and capture.captured.contains(excerpt.text):
        before, after = capture.captured.context(excerpt.text)
        values = (m.Verification.VERIFIED, capture.sha256, before, after)
    elif capture.usable:
        values = (m.Verification.MISMATCH, capture.sha256, "", "")
    else:
        values = (m.Verification.UNVERIFIED, "", "", "")
    current = (excerpt.verification, excerpt.verified_sha256, excerpt.context_before, excerpt.context_after)
    if current == values:
        return False
    excerpt.verification, excerpt.verified_sha256, excerpt.context_before, excerpt.context_after = values
    excerpt.verified_at = now if values[0] != m.Verification.UNVERIFIED else None
    return True


def record(excerpts, captures):
    """Update the verification of ``excerpts`` (with ``source`` loaded) in bulk, without history.

    Verification is derived data: it changes neither the content nor the record's history; but
    pages show it, so a change bumps the content generation and rewrites the cells that quote them.
    """
    now = timezone.now()
    changed = [e for e in excerpts if apply(e, captures[e.source.slug], now)]
    if changed:
        m.Excerpt.objects.bulk_update(changed, VERIFICATION_FIELDS, batch_size=500)
        content_changed(excerpts=[excerpt.pk for excerpt in changed])
    return changed


def verify_source(source):
    """Re-verify every excerpt of ``source`` against its stored capture; returns the excerpts."""
    capture = source_capture(source)
    excerpts = list(m.Excerpt.objects.filter(source=source).select_related("source"))
    record(excerpts, {source.slug: capture})
    return excerpts


def verify_all():
    """Re-verify every excerpt of the knowledge base; returns (verified, unverified, mismatched) counts."""
    captures = source_captures()
    excerpts = list(m.Excerpt.objects.select_related("source"))
    record(excerpts, captures)
    counts = {value: 0 for value in m.Verification.values}
    for excerpt in excerpts:
        counts[excerpt.verification] += 1
    return counts


def verify_loaded(content):
    """After ``load_content`` wrote ``content``: refuse a non-verbatim excerpt of a captured source.

    Raises the row's ``ContentError`` (file and line) for the first excerpt not found in its
    source's usable capture; otherwise records every excerpt's verification.
    """
    captures = source_captures()
    for row in content.rows[m.Excerpt]:
        capture = captures.get(row.key[0][0])
        if capture is not None and capture.usable and not capture.captured.contains(row.values["text"]):
            passage = closest_passage(row.values["text"], capture.captured.text)
            raise row.error(
                f"not found word for word in the stored capture of source {capture.slug!r} "
                f"({capture.sha256[:12]}); closest passage: {passage!r}"
            )
    # an excerpt of a source without a usable capture that is already marked unverified stays as it is
    usable = [slug for slug, capture in captures.items() if capture.usable]
    settled = Q(verification=m.Verification.UNVERIFIED, verified_sha256="", context_before="", context_after="")
    record(list(m.Excerpt.objects.filter(Q(source__slug__in=usable) | ~settled).select_related("source")), captures)


# Text fragments ------------------------------------------------------------------------------------

FRAGMENT_WORDS = 5  # a long quote is linked by its first and last words (textStart,textEnd)
FRAGMENT_LONG = 120  # characters


def _fragment_part(text):
    # Percent-encode everything but unreserved characters; "-" "," "&" are syntax in a text directive.
    return quote(text, safe="").replace("-", "%2D")


def text_fragment(url, text):
    """``url`` with a text fragment (``#:~:text=``) that scrolls to and highlights ``text``."""
    if not url or not text:
        return url
    words = normalize(text).split(" ")
    if len(" ".join(words)) > FRAGMENT_LONG and len(words) > 2 * FRAGMENT_WORDS:
        directive = (
            f"{_fragment_part(' '.join(words[:FRAGMENT_WORDS]))},{_fragment_part(' '.join(words[-FRAGMENT_WORDS:]))}"
        )
    else:
        directive = _fragment_part(" ".join(words))
    return f"{url.split('#', 1)[0]}#:~:text={directive}"
