"""Writing content rows as content files, in the canonical form ``load_content`` reads.

The files are written from the declarations (kb.content.schema): fields in the order
declared, empty optional fields left out, nested records under their parent and records in
their display order. ``export_content`` writes the database's rows (kb.content.database)
and removes files that no longer have a record, so the directory equals the database.
"""

from pathlib import Path

from django.utils import timezone

from kb.content.database import database_content
from kb.content.files import file_rows, nested_rows
from kb.content.schema import FILES, SPECS, Block, Field
from kb.content.sync import record_sync
from kb.content.unchanged import digest
from kb.content.yamlio import dump_yaml

EMPTY = (None, "", [], {})


class _Writer:
    def __init__(self, content):
        self.children = nested_rows(content)

    def record(self, spec, row):
        """What the file says for ``row``: a mapping in the declared order (a bare key for scalars)."""
        if spec.scalar:
            return row.key[0]
        data = {}
        for item in spec.fields:
            if isinstance(item, Field):
                value = row.key[spec.key.index(item.attr)] if item.attr in spec.key else row.values[item.attr]
                value = item.type.write(value)
            elif isinstance(item, Block):
                value = {inner.name: inner.type.write(row.values[inner.attr]) for inner in item.fields}
                value = {name: inner for name, inner in value.items() if inner not in EMPTY}
            else:
                value = [self.record(item.spec, child) for child in self.children[(item.spec.model, row.key)]]
            if value not in EMPTY:
                data[item.name] = value
        return data


def content_files(content):
    """Every content file for ``content`` (a ContentSet): (relative path, text), one file at a time."""
    writer = _Writer(content)
    for file_type in FILES:
        for path, rows in file_rows(content, file_type).items():
            records = [writer.record(file_type.spec, row) for row in rows]
            yield path, dump_yaml(records if file_type.many else records[0])


def export_content(directory):
    """Write every content file into ``directory``; return (written, unchanged, removed) paths.

    What ``directory`` now says becomes the base of its next load (kb.content.sync); no other
    directory is marked, so an export to a scratch folder never hides admin work from ``content/``.
    """
    directory = Path(directory)
    synced = timezone.now()
    content = database_content()
    written, unchanged, removed, paths = [], [], [], set()
    for file_type in FILES:
        if file_type.folder:
            (directory / file_type.folder).mkdir(parents=True, exist_ok=True)
    hashes = {}  # what the next load compares the files with (kb.content.unchanged)
    for relative, text in content_files(content):
        paths.add(relative)
        path = directory / relative
        data = text.encode()
        hashes[relative] = digest(data)
        if path.exists() and path.read_bytes() == data:
            unchanged.append(path)
            continue
        path.write_bytes(data)
        written.append(path)
    for file_type in FILES:
        folder = directory / file_type.folder
        for path in sorted(folder.glob("*.yaml")) if file_type.folder else [directory / file_type.path]:
            if path.exists() and str(path.relative_to(directory)) not in paths:
                path.unlink()
                removed.append(path)
    record_sync(directory, synced, False, hashes, (row for spec in SPECS for row in content.rows[spec.model]))
    return written, unchanged, removed
