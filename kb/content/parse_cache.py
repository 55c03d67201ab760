"""A cache of parsed content files, keyed by their bytes and by the reader's code (like .pyc files).

Parsing YAML is most of the cost of a load; a file whose bytes have not changed,
read by the same code, gives the same rows, so a re-load of unchanged files skips
the parser. The key includes a hash of the source of every module that turns
bytes into rows, so a change to a reader never returns rows parsed by the old
one. Only files that parsed cleanly are cached; the cache is a speed-up that is
safe to delete.
"""

import hashlib
import pickle
from pathlib import Path

from django.conf import settings

VERSION = b"kb-content-rows-3"
# The modules whose code decides what a file's rows are.
READER_MODULES = ("files.py", "yamlio.py", "schema.py", "parse_cache.py")
_code_digest = None


def code_digest():
    """A hash of the content readers' source: part of every cache key."""
    global _code_digest
    if _code_digest is None:
        here = Path(__file__).resolve().parent
        digest = hashlib.sha256(VERSION)
        for name in READER_MODULES:
            digest.update(name.encode() + b"\0" + (here / name).read_bytes())
        _code_digest = digest.digest()
    return _code_digest


def _cache_dir():
    return Path(settings.KB_CONTENT_CACHE)


def rows(path, label, read):
    """The rows of ``path``, from the cache when its bytes were parsed before."""
    from kb.content.files import FileRows

    data = path.read_bytes()
    digest = hashlib.sha256(code_digest() + label.encode() + b"\0" + data).hexdigest()
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
