"""Records neither side changed since a directory's last load or export, found without reading them.

Besides a fingerprint per record, a directory's base (kb.content.sync) keeps the SHA-256 of each
content file's bytes. A file whose bytes are still the base's says exactly what the base says of
its records. A record of such a file whose database row still has the base's fingerprint is
*settled*: neither the files nor the database changed it, so the load leaves it as it is (the
sync rule's first line) and needs neither its file parsed nor its row kept. A load parses only
the files that changed, and the unchanged files holding a record the database changed.

Every record's file follows from its natural key (``claims/<subject>.yaml`` holds the claims of
``<subject>`` and their evidence), except in folders whose nested records are not keyed by
their parent (a subject's old slugs): those files are always read.
"""

import hashlib
from pathlib import Path

from kb.content.files import key_from_text, key_text
from kb.content.schema import FILES, SPEC_BY_MODEL


def _tree(spec):
    yield spec
    for nested in spec.children:
        yield from _tree(nested.spec)


FILE_TYPE = {spec.model: file_type for file_type in FILES for spec in _tree(file_type.spec)}
ALWAYS_READ = frozenset(
    file_type.folder
    for file_type in FILES
    if file_type.folder and any(spec.parent not in spec.key for spec in _tree(file_type.spec) if spec.parent)
)


def file_of(spec, key):
    """The file (relative to its directory) that holds the record ``key`` of ``spec``; None when it is always read."""
    file_type = FILE_TYPE[spec.model]
    if not file_type.folder:
        return file_type.path
    if file_type.folder in ALWAYS_READ:
        return None
    while spec is not file_type.spec:
        key, spec = key[spec.key.index(spec.parent)], SPEC_BY_MODEL[spec.key_refs[spec.parent]]
    name = key[spec.key.index(file_type.named_by)]
    return file_type.path.format(name[0] if spec.is_fk(file_type.named_by) else name)


def digest(data):
    return hashlib.sha256(data).hexdigest()


def file_hashes(directory):
    """{relative path: SHA-256 of its bytes} of every content file in ``directory``."""
    directory = Path(directory)
    found = {}
    for file_type in FILES:
        folder = file_type.folder
        for path in sorted((directory / folder).glob("*.yaml")) if folder else [directory / file_type.path]:
            if path.is_file():
                found[path.relative_to(directory).as_posix()] = digest(path.read_bytes())
    return found


class Settling:
    """Which records of a load are settled, and which files it must read.

    ``base`` is the directory's base with keys as texts (kb.content.sync.load_base_texts), ``files``
    its files' hashes then (load_file_hashes), ``now`` their hashes today; ``read`` names files
    read whatever their hash. Give every database row to ``settles`` (which takes settled records
    out of ``base``); then ``skipped()`` names the files not to read and ``base()`` what is left.
    """

    def __init__(self, base, files, now, fingerprint, read=frozenset()):
        self.texts = base
        self.fingerprint = fingerprint
        self.unchanged = {
            path for path, sha in now.items() if files.get(path) == sha and skippable(path) and path not in read
        }
        self.settled = {model: set() for model in base}  # key texts

    def settles(self, spec, row):
        """True when ``row`` (the database's) is settled: its file unchanged, its content the base's."""
        if file_of(spec, row.key) not in self.unchanged:
            return False
        text = key_text(row.key)
        base = self.texts[spec.model].get(text)
        if base is None or base.fingerprint != self.fingerprint(row):
            return False
        del self.texts[spec.model][text]
        self.settled[spec.model].add(text)
        return True

    def base(self):
        """The base of the records not settled: {model: {key: Base}}."""
        return {
            model: {key_from_text(text): base for text, base in bases.items()} for model, bases in self.texts.items()
        }

    def skipped(self, base):
        """Unchanged files all of whose records in ``base`` are settled: not read."""
        read = {file_of(SPEC_BY_MODEL[model], key) for model, bases in base.items() for key in bases}
        return self.unchanged - read

    @property
    def any(self):
        return any(self.settled.values())


def skippable(path):
    """False for a file of a folder that is always read."""
    return path.split("/")[0] not in ALWAYS_READ if "/" in path else True
