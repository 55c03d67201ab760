"""Captured source texts: normalisation, fingerprints, extraction and storage.

A capture's fingerprint is the SHA-256 of its normalised text in UTF-8. Content files
record the fingerprint (and length and date), never the text itself. A capture comes
from a plain-text file, an HTML file or an HTML page fetched by URL (kb.evidence.fetching:
checked redirects, one deadline); the main text of HTML is extracted with trafilatura in a
child process with limits (kb.evidence.html_sandbox), never by hand-written tag stripping.
Whatever goes wrong is a ``CaptureError`` with a message for a person.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from kb.evidence import fetching, html_sandbox
from kb.evidence.errors import CaptureError
from kb.evidence.verification import excerpts_not_in, verify_source
from kb.knowledge import models as m

_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)

MAX_CAPTURE_BYTES = 5 * 1024 * 1024  # a long article is well under 1 MB of HTML
FETCH_TIMEOUT = 20  # seconds
TEXT_SUFFIXES = {".txt", ".text", ".md"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
PLAIN_TEXT = "plain text"
PASTED = "pasted text"

logger = logging.getLogger("kb.evidence.captures")


def normalise_capture(text):
    """Plain text as stored: one newline convention, no trailing spaces, no blank lines at the ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return _TRAILING_SPACE.sub("", text).strip("\n")


def fingerprint(text):
    """(sha256 hex, characters) of an already normalised capture text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), len(text)


# Extraction ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extracted:
    text: str  # normalised
    origin: str
    extractor: str

    @property
    def fingerprint(self):
        return fingerprint(self.text)


def looks_like_html(data):
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<body" in head or b"<head" in head


def decode_text(data, what):
    if b"\x00" in data[:8192]:
        raise CaptureError(f"{what} is not text (it holds binary data): give a plain-text or HTML file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CaptureError(f"{what} is not UTF-8 text: save it as UTF-8, or give the HTML page.") from None


def extract(data, origin, kind=None):
    """An ``Extracted`` capture from raw bytes: ``kind`` is "text", "html" or None to tell from the content."""
    if len(data) > MAX_CAPTURE_BYTES:
        raise CaptureError(f"{origin} is larger than {MAX_CAPTURE_BYTES // (1024 * 1024)} MB; a capture is one page.")
    kind = kind or ("html" if looks_like_html(data) else "text")
    return extract_text(decode_text(data, origin), origin, kind)


def extract_text(text, origin, kind):
    """An ``Extracted`` capture from decoded text: the main text of HTML, or plain text as it is."""
    if kind == "html":
        try:
            text, extractor = html_sandbox.extract_html(text, origin), html_sandbox.extractor_name()
        except html_sandbox.ExtractionError as error:
            raise CaptureError(str(error)) from None
    else:
        extractor = PLAIN_TEXT
    text = normalise_capture(text)
    if not text:
        raise CaptureError(f"{origin} holds no text.")
    return Extracted(text=text, origin=origin, extractor=extractor)


def kind_of_file(path):
    suffix = Path(path).suffix.lower()
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix in TEXT_SUFFIXES:
        return "text"
    return None


def from_file(path):
    path = Path(path)
    if not path.is_file():
        raise CaptureError(f"{path}: no such file.")
    if path.stat().st_size > MAX_CAPTURE_BYTES:
        raise CaptureError(f"{path} is larger than {MAX_CAPTURE_BYTES // (1024 * 1024)} MB; a capture is one page.")
    return extract(path.read_bytes(), path.name, kind_of_file(path))


def archive_file(folder, key):
    """The file ``<key>.txt`` of ``folder``, or None: never a path out of it ("../../etc/secret").

    A symbolic link, or a file that is not really inside the folder, is refused (CaptureError):
    an archive is a folder of plain files.
    """
    if not folder or not key:
        return None
    name = f"{key}.txt"
    if Path(name).name != name or name.startswith(".") or "\\" in name or "\x00" in name:
        return None
    path = Path(folder) / name
    if path.is_symlink():
        raise CaptureError(f"{path} is a symbolic link: an archive holds plain files only.")
    if not path.is_file():
        return None
    if path.resolve().parent != Path(folder).resolve():
        raise CaptureError(f"{path} is not inside {folder}: refused.")
    return path


def first_archive_file(folders, key):
    """``<key>.txt`` of the first of ``folders`` that holds it, or None."""
    return next((path for folder in folders if (path := archive_file(folder, key))), None)


def is_url(value):
    return value.startswith(("http://", "https://"))


def from_url(url, timeout=FETCH_TIMEOUT, max_bytes=MAX_CAPTURE_BYTES, allow_private=False):
    """Fetch ``url`` (kb.evidence.fetching: every hop checked, one deadline) and extract its main text.

    The capture's origin is the final URL, where the text came from; the redirects are logged.
    """
    fetched = fetching.fetch(url, deadline=timeout, max_bytes=max_bytes, allow_private=allow_private)
    if fetched.redirects:
        logger.info(
            "capture of %s: redirected to %s",
            url,
            fetched.url,
            extra={"redirects": [f"{status} {origin} -> {target}" for status, origin, target in fetched.redirects]},
        )
    kind = "text" if fetched.content_type == "text/plain" else "html"
    return extract_text(fetched.text, fetched.url, kind)


def from_pasted(text):
    text = normalise_capture(text)
    if not text:
        raise CaptureError("The pasted text is empty.")
    return Extracted(text=text, origin=PASTED, extractor=PLAIN_TEXT)


# Storing -----------------------------------------------------------------------------------


class CaptureConflict(CaptureError):
    """The source already has a capture with another fingerprint."""

    def __init__(self, source, old, new_sha256, broken):
        self.broken = broken
        lines = [f"  - {source.slug}/{key}" for key in broken]
        which = (
            "These excerpts would stop matching:\n" + "\n".join(lines) if broken else "Every excerpt would still match."
        )
        super().__init__(
            f"Source {source.slug!r} already has a capture with fingerprint {old.sha256} "
            f"(from {old.origin}); this one is {new_sha256}. {which}\nPass --replace to store it anyway."
        )


def store_capture(source, extracted, replace=False, captured_at=None, record_fingerprint=True, verify=True):
    """Store ``extracted`` as the capture of ``source``, then (with ``verify``) re-verify the source's excerpts.

    Refuses (``CaptureConflict``) to replace a capture with another fingerprint unless
    ``replace``. With ``record_fingerprint``, the source's fingerprint fields (which
    ``export_content`` writes) are set to this capture's. Without ``verify`` (a caller that
    verifies every excerpt afterwards), nothing is verified and None is returned.
    """
    sha256, characters = extracted.fingerprint
    captured_at = captured_at or timezone.now()
    with transaction.atomic():
        old = m.Capture.objects.filter(source=source).first()
        if old is not None and old.sha256 != sha256 and not replace:
            raise CaptureConflict(source, old, sha256, excerpts_not_in(source, extracted.text))
        m.Capture.objects.update_or_create(
            source=source,
            defaults={
                "text": extracted.text,
                "sha256": sha256,
                "characters": characters,
                "captured_at": captured_at,
                "origin": extracted.origin[:500],
                "extractor": extracted.extractor[:100],
            },
        )
        if record_fingerprint:
            changed = (
                source.capture_sha256 != sha256 or source.capture_characters != characters or source.captured is None
            )
            if changed:
                source.capture_sha256, source.capture_characters = sha256, characters
                source.captured = timezone.localdate(captured_at) if timezone.is_aware(captured_at) else captured_at
                source._change_reason = "capture stored"
                source.save()
        source.__dict__.pop("_prefetched_objects_cache", None)
        result = verify_source(source) if verify else None
    logger.info(
        "capture of %s stored: %s, %d characters, from %s",
        source.slug, sha256[:12], characters, extracted.origin,
        extra={"source": source.slug, "sha256": sha256, "characters": characters},
    )  # fmt: skip
    return result
