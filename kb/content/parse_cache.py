"""A cache of parsed content files, keyed by their bytes (like Python's .pyc files).

Parsing YAML is most of the cost of a load; a file whose bytes have not changed
gives the same rows, so a re-load of unchanged files skips the parser. Only files
that parsed cleanly are cached; the cache is a speed-up that is safe to delete.
"""

import hashlib
import pickle
from pathlib import Path

from django.conf import settings

VERSION = b"kb-content-rows-2"


def _cache_dir():
    return Path(settings.KB_CONTENT_CACHE)


def rows(path, label, read):
    """The rows of ``path``, from the cache when its bytes were parsed before."""
    from .files import FileRows

    data = path.read_bytes()
    digest = hashlib.sha256(VERSION + label.encode() + b"\0" + data).hexdigest()
    cached = _cache_dir() / digest[:2] / f"{digest}.pickle"
    try:
        return pickle.loads(cached.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass
    parsed = FileRows()
    read(parsed, path, label)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(".tmp")
        temporary.write_bytes(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))
        temporary.replace(cached)
    except OSError:
        pass  # a read-only or full disk only costs speed
    return parsed
