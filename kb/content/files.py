"""Reading a content directory into rows: one per record, keyed by slugs, located by file and line.

What each file holds comes from its declaration (kb.content.schema). Only the shape of each
record is checked here (known fields, required fields, types, duplicate keys); the models'
own validation runs in the loader.
"""

import datetime
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kb.content.schema import (
    CONTENT_DIRS,
    FILES,
    SLUG_RE,
    SPEC_BY_MODEL,
    TOP_LEVEL_FILES,
    Block,
    Field,
    clean_text,
    moment,
)
from kb.content.yamlio import ContentError, Record, read_yaml

MAX_TEXT = 100_000  # characters in one field; a quote or a snippet is far shorter


@dataclass(slots=True)
class Row:
    model: type
    key: tuple
    values: dict
    path: str
    line: int
    what: str
    fingerprint: str = ""  # of its content, once kb.content.sync has taken it (position and dates aside)

    @property
    def origin(self):
        return f"{self.path}:{self.line} ({self.what})"

    def error(self, message):
        return ContentError(self.path, self.line, f"{self.what}: {message}")


_TYPE_NAMES = {bool: "a true/false value", int: "a number", float: "a number", list: "a list", dict: "a mapping"}


def _type_name(value):
    if value is None:
        return "empty"
    if isinstance(value, datetime.date):
        return "a date"
    return _TYPE_NAMES.get(type(value), type(value).__name__) if not isinstance(value, Record) else "a mapping"


class Reader:
    """Checks the fields of one record and says exactly where a problem is."""

    def __init__(self, label, record, what):
        self.label = label
        self.what = what
        self.line = getattr(record, "line", 0)
        if not isinstance(record, dict):
            raise ContentError(label, self.line, f"{what} must be a mapping of fields, not {_type_name(record)}")
        self.record = record

    def error(self, message):
        return ContentError(self.label, self.line, f"{self.what}: {message}")

    def check_fields(self, allowed):
        unknown = sorted(str(name) for name in self.record if name not in allowed)
        if unknown:
            raise self.error(f"unknown field {unknown[0]!r} (expected one of: {', '.join(allowed)})")

    def _get(self, name, required):
        value = self.record.get(name)
        if value is None or value == "":
            if required:
                raise self.error(f"missing required field {name!r}")
            return None
        return value

    def text(self, name, required=False, single_line=False):
        value = self._get(name, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(f"field {name!r} must be text, not {_type_name(value)} (put the value in quotes)")
        if len(value) > MAX_TEXT:
            raise self.error(f"field {name!r} is {len(value):,} characters long; the limit is {MAX_TEXT:,}")
        if "\x00" in value:
            raise self.error(f"field {name!r} contains a NUL character")
        value = clean_text(value)
        if single_line and "\n" in value:
            raise self.error(f"field {name!r} must be a single line")
        return value

    def slug(self, name, required=True):
        value = self.text(name, required=required, single_line=True)
        if value and not SLUG_RE.match(value):
            raise self.error(f"field {name!r} must be a slug (letters, digits, hyphens, underscores), not {value!r}")
        return value

    def ref(self, name, required=False, shape="source-slug/excerpt-key"):
        """A reference ``<parent-slug>/<key>`` as a pair, or None."""
        value = self.text(name, required=required, single_line=True)
        if not value:
            return None
        parent, sep, key = value.partition("/")
        if not sep or not SLUG_RE.match(parent) or not SLUG_RE.match(key):
            raise self.error(f"field {name!r} must look like '{shape}', not {value!r}")
        return (parent, key)

    def integer(self, name):
        value = self._get(name, False)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.error(f"field {name!r} must be a whole number, not {_type_name(value)}")
        return value

    def boolean(self, name, default):
        value = self._get(name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"field {name!r} must be true or false, not {value!r}")
        return value

    def date(self, name):
        value = self._get(name, False)
        if value is None:
            return None
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        try:
            return datetime.date.fromisoformat(str(value))
        except ValueError:
            raise self.error(f"field {name!r} must be a date written YYYY-MM-DD, not {value!r}") from None

    def moment(self, name):
        """A date and time (``2026-11-28 09:30:00+00:00``; a bare date means midnight UTC), in UTC."""
        value = self._get(name, False)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.datetime.fromisoformat(value)
            except ValueError:
                raise self.error(f"field {name!r} must be a date and time such as 2026-11-28 09:30:00+00:00") from None
        elif not isinstance(value, datetime.datetime) and isinstance(value, datetime.date):
            value = datetime.datetime.combine(value, datetime.time())
        if not isinstance(value, datetime.datetime):
            raise self.error(f"field {name!r} must be a date and time, not {_type_name(value)}")
        return moment(value if value.tzinfo else value.replace(tzinfo=datetime.UTC))

    def mapping(self, name, what):
        value = self._get(name, False)
        if value is None:
            return None
        return Reader(self.label, value, what)

    def items(self, name, what):
        value = self._get(name, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(f"field {name!r} must be a list, not {_type_name(value)}")
        return [Reader(self.label, item, f"{what} #{index}") for index, item in enumerate(value, 1)]


class FileRows(list):
    """The rows one file yields, before they meet the other files' rows."""

    def __init__(self):
        super().__init__()
        self.counters = {}  # model -> records numbered across the whole file (order="file")

    def add(self, model, key, values, reader):
        self.append(Row(model, key, values, reader.label, reader.line, reader.what))


class ContentSet:
    """All rows read from one content directory (or the database), in dependency order per model."""

    def __init__(self):
        self.rows = {spec_model: [] for spec_model in SPEC_BY_MODEL}
        self.pks = {}  # (model, key) -> primary key of a row a load read from the database (kb.content.database)
        self._seen = {}

    def extend(self, rows):
        for row in rows:
            earlier = self._seen.get((row.model, row.key))
            if earlier:
                raise row.error(
                    f"duplicate {row.model._meta.verbose_name} {show_key(row.key)!r} (first defined at {earlier})"
                )
            self._seen[(row.model, row.key)] = row.origin
            self.rows[row.model].append(row)


def show_key(key):
    return "/".join(show_key(part) if isinstance(part, tuple) else str(part) for part in key)


def key_text(key):
    """A natural key as one text (JSON), as the sync's base keeps it."""
    return json.dumps(key, ensure_ascii=False, separators=(",", ":"))


def key_from_text(text):
    def tuples(value):
        return tuple([tuples(part) if type(part) is list else part for part in value])

    return tuples(json.loads(text))


def flat_key(key):
    for part in key:
        if isinstance(part, tuple):
            yield from flat_key(part)
        else:
            yield part


def display_order(row):
    """Records are written in this order within their list: position, then natural key."""
    return (row.values.get("order") or 0, *flat_key(row.key))


def nested_rows(content):
    """{(child model, parent key): child rows in display order} for every nested spec."""
    found = defaultdict(list)

    def index(spec):
        for nested in spec.children:
            child = nested.spec
            at = child.key.index(child.parent) if child.parent in child.key else None
            for row in content.rows[child.model]:
                found[(child.model, row.key[at] if at is not None else row.values[child.parent])].append(row)
            index(child)

    for file_type in FILES:
        index(file_type.spec)
    for rows in found.values():
        rows.sort(key=display_order)
    return found


def file_rows(content, file_type):
    """The top-level rows of ``file_type`` in ``content``, as {file path: rows in display order}."""
    spec = file_type.spec
    rows = sorted(content.rows[spec.model], key=display_order)
    if not file_type.folder:
        return {file_type.path: rows} if rows or not file_type.optional else {}
    at = spec.key.index(file_type.named_by)
    by_file = defaultdict(list)
    for row in rows:
        name = row.key[at][0] if spec.is_fk(file_type.named_by) else row.key[at]
        by_file[file_type.path.format(name)].append(row)
    return by_file


def _list_file(path, label):
    data = read_yaml(path, label)
    if data is None:
        return []
    if not isinstance(data, list):
        raise ContentError(label, getattr(data, "line", 1), f"expected a list of records, found {_type_name(data)}")
    return data


def _mapping_file(path, label):
    data = read_yaml(path, label)
    if not isinstance(data, dict):
        raise ContentError(label, 1, f"expected a mapping of fields, found {_type_name(data)}")
    return data


def read_content(directory, skip=frozenset()):
    """Read every content file under ``directory`` into a ContentSet, or raise ContentError.

    Files named in ``skip`` (paths relative to ``directory``) are not parsed (kb.content.unchanged).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ContentError(directory, 0, "no such content directory")
    content = ContentSet()

    def label(path):
        return str(path.relative_to(directory.parent)) if directory.parent != path else str(path)

    for path in sorted(directory.glob("*.yaml")):
        if path.name not in TOP_LEVEL_FILES:
            raise ContentError(label(path), 0, f"unexpected file (known files: {', '.join(sorted(TOP_LEVEL_FILES))})")
    for sub in CONTENT_DIRS:
        for path in sorted((directory / sub).glob("*")):
            if path.suffix != ".yaml" or not SLUG_RE.match(path.stem):
                raise ContentError(label(path), 0, "content files are named <slug>.yaml")
    for file_type in FILES:
        if file_type.folder:
            paths = sorted((directory / file_type.folder).glob("*.yaml"))
        else:
            paths = [path for path in [directory / file_type.path] if path.exists()]
        for path in paths:
            if path.relative_to(directory).as_posix() not in skip:
                content.extend(read_file(file_type, path, label(path)))
    return content


def read_file(file_type, path, label):
    """The rows of one file of ``file_type``."""
    spec, rows = file_type.spec, FileRows()
    known = {}
    if file_type.named_by:
        known[file_type.named_by] = (path.stem,) if spec.is_fk(file_type.named_by) else path.stem
    if file_type.many:
        for position, record in enumerate(_list_file(path, label), 1):
            _read_record(rows, spec, Reader(label, record, f"{spec.what} #{position}"), known, position)
    else:
        _read_record(rows, spec, Reader(label, _mapping_file(path, label), f"{spec.what} {path.stem!r}"), known, None)
    return rows


def _read_field(reader, item, required=None):
    required = item.required if required is None else required
    value = item.type.read(reader, item.name, required)
    if required and value in (None, ""):
        raise reader.error(f"missing required field {item.name!r}")
    return item.default if item.default is not None and value in (None, "") else value


def _read_record(rows, spec, r, known, position, prefix=""):
    """Read one record of ``spec`` (and the records nested in it) into ``rows``.

    ``known`` holds the key fields the file's name or the parent record give.
    """
    r.check_fields([item.name for item in spec.fields])
    values = {}
    for item in spec.values:
        if item.attr in spec.key and item.attr not in known:
            values[item.attr] = _read_field(r, item)
    key = tuple(known[name] if name in known else values.pop(name) for name in spec.key)
    own = [part for name, part in zip(spec.key, key, strict=True) if name != spec.parent]
    r.what = f"{prefix}{spec.what} {show_key(tuple(own))!r}"
    for item in spec.fields:
        if isinstance(item, Field) and item.attr not in spec.key:
            values[item.attr] = _read_field(r, item)
        elif isinstance(item, Block):
            block = r.mapping(item.name, item.name)
            if block:
                block.check_fields([inner.name for inner in item.fields])
            for inner in item.fields:
                values[inner.attr] = _read_field(
                    block or Reader(r.label, Record(), item.name), inner, bool(block) and inner.required
                )
    if spec.parent and spec.parent not in spec.key:
        values[spec.parent] = known[spec.parent]
    if spec.order == "position":
        values["order"] = position
    elif spec.order == "file":
        values["order"] = rows.counters[spec.model] = rows.counters.get(spec.model, 0) + 1
    rows.add(spec.model, key, values, r)
    for nested in spec.children:
        _read_children(rows, nested, r, key)


def _read_children(rows, nested, r, key):
    child = nested.spec
    known = {child.parent: key}
    prefix = f"{r.what}, "
    if child.scalar:
        values = r.record.get(nested.name) or []
        if not isinstance(values, list) or not all(isinstance(v, str) and SLUG_RE.match(v) for v in values):
            raise r.error(f"field {nested.name!r} must be a list of slugs")
        for value in values:
            rows.add(child.model, (value,), {child.parent: key}, r)
        return
    for position, reader in enumerate(r.items(nested.name, f"{prefix}{child.what}"), 1):
        _read_record(rows, child, reader, known, position, prefix)
