"""Captured source texts: normalisation and fingerprints.

A capture's fingerprint is the SHA-256 of its normalised text in UTF-8. Content files
record the fingerprint (and length and date), never the text itself.
"""

import hashlib
import re

_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)


def normalise_capture(text):
    """Plain text as stored: one newline convention, no trailing spaces, no blank lines at the ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return _TRAILING_SPACE.sub("", text).strip("\n")


def fingerprint(text):
    """(sha256 hex, characters) of an already normalised capture text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), len(text)
