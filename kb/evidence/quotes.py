"""Comparing quotations with a source's text, whitespace aside (``kb.evidence.verification`` records the results)."""

import difflib
import re

_WHITESPACE = re.compile(r"\s+")


def normalize(text):
    return _WHITESPACE.sub(" ", text).strip()


def closest_passage(quote, text, margin=40):
    """The passage of ``text`` that best matches ``quote``, to show an editor what the source says."""
    quote = normalize(quote)
    if not quote or not text:
        return ""
    matcher = difflib.SequenceMatcher(None, text, quote, autojunk=False)
    match = max(matcher.get_matching_blocks(), key=lambda block: block.size)
    start = max(0, match.a - match.b - margin)
    return text[start : start + len(quote) + 2 * margin].strip()
