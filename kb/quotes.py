"""Checking quotations against the archived text of their sources, whitespace aside."""

import difflib
import re
from functools import lru_cache
from pathlib import Path

_WHITESPACE = re.compile(r"\s+")


def normalize(text):
    return _WHITESPACE.sub(" ", text).strip()


@lru_cache(maxsize=64)
def _archived(path, mtime):
    return normalize(Path(path).read_text(encoding="utf-8"))


def archived_text(archive_dir, archive_key):
    """The normalised archived text of a source, or None when there is none."""
    if not archive_dir or not archive_key:
        return None
    name = f"{archive_key}.txt"
    if Path(name).name != name or name.startswith(".") or "\\" in name:
        return None  # a file of the archive folder, never a path out of it ("../../etc/secret")
    path = Path(archive_dir) / name
    if not path.is_file():
        return None
    return _archived(str(path), path.stat().st_mtime)


def is_quoted(quote, text):
    return normalize(quote) in text


def closest_passage(quote, text, margin=40):
    """The passage of ``text`` that best matches ``quote``, to show an editor what the source says."""
    quote = normalize(quote)
    if not quote or not text:
        return ""
    matcher = difflib.SequenceMatcher(None, text, quote, autojunk=False)
    match = max(matcher.get_matching_blocks(), key=lambda block: block.size)
    start = max(0, match.a - match.b - margin)
    return text[start : start + len(quote) + 2 * margin].strip()
