"""Reading a content directory into rows: one per record, keyed by slugs, located by file and line.

Only the shape of each record is checked here (known fields, required fields,
types, duplicate keys); the models' own validation runs in the loader.
"""

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

from kb.content import parse_cache
from kb.content.schema import SPEC_BY_MODEL
from kb.content.yamlio import ContentError, Record, read_yaml
from kb.knowledge import models as m

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")
MAX_TEXT = 100_000  # characters in one field; a quote or a snippet is far shorter

# File layout, relative to the content directory.
KINDS_FILE = "kinds.yaml"
DIMENSIONS_FILE = "dimensions.yaml"
FEATURED_FILE = "featured.yaml"
SYNONYMS_FILE = "synonyms.yaml"
SUBJECTS_DIR = "subjects"
SOURCES_DIR = "sources"
CLAIMS_DIR = "claims"
SNIPPETS_DIR = "snippets"
TOP_LEVEL_FILES = {KINDS_FILE, DIMENSIONS_FILE, FEATURED_FILE, SYNONYMS_FILE}
CONTENT_DIRS = (SUBJECTS_DIR, SOURCES_DIR, CLAIMS_DIR, SNIPPETS_DIR)


@dataclass
class Row:
    model: type
    key: tuple
    values: dict
    path: str
    line: int
    what: str

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

    @property
    def origin(self):
        return f"{self.label}:{self.line} ({self.what})"

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
        value = value.replace("\r\n", "\n").rstrip()
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
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC).replace(microsecond=0)

    def dates(self):
        """The content's own dates of a record: when it was added and last changed."""
        return {"added": self.moment("added"), "changed": self.moment("changed")}

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

    def add(self, model, key, values, reader):
        self.append(Row(model, key, values, reader.label, reader.line, reader.what))


class ContentSet:
    """All rows read from one content directory, in dependency order per model."""

    def __init__(self):
        self.rows = {spec_model: [] for spec_model in SPEC_BY_MODEL}
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


def read_content(directory):
    """Read every content file under ``directory`` into a ContentSet, or raise ContentError."""
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

    readers = [
        (directory / KINDS_FILE, _read_kinds),
        (directory / DIMENSIONS_FILE, _read_dimensions),
        (directory / FEATURED_FILE, _read_featured),
        (directory / SYNONYMS_FILE, _read_synonyms),
    ]
    for sub, read in ((SUBJECTS_DIR, _read_subject), (SOURCES_DIR, _read_source), (CLAIMS_DIR, _read_claims),
                      (SNIPPETS_DIR, _read_task)):  # fmt: skip
        readers += [(path, read) for path in sorted((directory / sub).glob("*.yaml"))]
    for path, read in readers:
        if path.exists():
            content.extend(parse_cache.rows(path, label(path), read))
    return content


def _read_kinds(rows, path, label):
    for order, record in enumerate(_list_file(path, label), 1):
        r = Reader(label, record, f"kind #{order}")
        r.check_fields(["slug", "name", "description"])
        slug = r.slug("slug")
        r.what = f"kind {slug!r}"
        values = {"name": r.text("name", required=True, single_line=True), "description": r.text("description")}
        rows.add(m.SubjectKind, (slug,), values | {"order": order}, r)


def _read_dimensions(rows, path, label):
    dimension_order = 0
    for order, record in enumerate(_list_file(path, label), 1):
        r = Reader(label, record, f"group #{order}")
        r.check_fields(["slug", "name", "description", "dimensions"])
        group = r.slug("slug")
        r.what = f"group {group!r}"
        values = {"name": r.text("name", required=True, single_line=True), "description": r.text("description")}
        rows.add(m.DimensionGroup, (group,), values | {"order": order}, r)
        for d in r.items("dimensions", "dimension"):
            d.check_fields(["slug", "name", "description"])
            slug = d.slug("slug")
            d.what = f"dimension {slug!r}"
            dimension_order += 1
            values = {
                "name": d.text("name", required=True, single_line=True),
                "description": d.text("description"),
                "order": dimension_order,
                "group": (group,),
            }
            rows.add(m.Dimension, (slug,), values, d)


def _read_featured(rows, path, label):
    for order, record in enumerate(_list_file(path, label), 1):
        r = Reader(label, record, f"featured comparison #{order}")
        r.check_fields(["path", "title", "note"])
        comparison = r.text("path", required=True, single_line=True)
        if not all(SLUG_RE.match(slug) for slug in comparison.split(m.COMPARE_SEPARATOR)):
            raise r.error(f"field 'path' must be subject slugs joined by {m.COMPARE_SEPARATOR!r}, not {comparison!r}")
        r.what = f"featured comparison {comparison!r}"
        values = {"title": r.text("title", single_line=True), "note": r.text("note"), "order": order}
        rows.add(m.FeaturedComparison, (comparison,), values, r)


def _read_synonyms(rows, path, label):
    for order, record in enumerate(_list_file(path, label), 1):
        r = Reader(label, record, f"synonym group #{order}")
        r.check_fields(["term", "words", "note"])
        term = r.slug("term")
        r.what = f"synonym group {term!r}"
        words = r.text("words", required=True, single_line=True)
        if not all(SLUG_RE.match(word) for word in words.split()):
            raise r.error(f"field 'words' must be words separated by spaces, not {words!r}")
        values = {"words": " ".join(words.split()), "note": r.text("note"), "order": order}
        rows.add(m.SynonymGroup, (term,), values, r)


def _read_subject(rows, path, label):
    slug = path.stem
    r = Reader(label, _mapping_file(path, label), f"subject {slug!r}")
    r.check_fields(["name", "kind", "homepage", "first_release", "old_slugs", "relations", "summary"])
    values = {
        "name": r.text("name", required=True, single_line=True),
        "kind": (r.slug("kind"),),
        "homepage": r.text("homepage", single_line=True),
        "first_release": r.integer("first_release"),
        "summary": r.text("summary"),
    }
    rows.add(m.Subject, (slug,), values, r)
    old_slugs = r.record.get("old_slugs") or []
    if not isinstance(old_slugs, list) or not all(isinstance(s, str) and SLUG_RE.match(s) for s in old_slugs):
        raise r.error("field 'old_slugs' must be a list of slugs")
    for old in old_slugs:
        rows.add(m.SubjectAlias, (old,), {"subject": (slug,)}, r)
    for rel in r.items("relations", "relation"):
        rel.check_fields(["kind", "target"])
        kind = rel.text("kind", required=True, single_line=True)
        target = rel.slug("target")
        rel.what = f"relation {kind} {target}"
        rows.add(m.SubjectRelation, ((slug,), kind, (target,)), {}, rel)


def _read_source(rows, path, label):
    slug = path.stem
    r = Reader(label, _mapping_file(path, label), f"source {slug!r}")
    fields = ["title", "kind", "author", "publisher", "url", "licence", "published", "updated", "archive", "capture"]
    r.check_fields([*fields, "notes", "excerpts"])
    capture = r.mapping("capture", "capture")
    if capture:
        capture.check_fields(["sha256", "characters", "captured"])
        sha256 = capture.text("sha256", required=True, single_line=True)
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise capture.error(f"field 'sha256' must be 64 lowercase hexadecimal digits, not {sha256!r}")
    values = {
        "title": r.text("title", required=True, single_line=True),
        "kind": r.text("kind", required=True, single_line=True),
        "author": r.text("author", single_line=True),
        "publisher": r.text("publisher", single_line=True),
        "url": r.text("url", single_line=True),
        "licence": r.text("licence", single_line=True),
        "published": r.date("published"),
        "updated_on": r.date("updated"),
        "captured": capture.date("captured") if capture else None,
        "archive": r.text("archive", single_line=True),
        "capture_sha256": sha256 if capture else "",
        "capture_characters": capture.integer("characters") if capture else None,
        "notes": r.text("notes"),
    }
    rows.add(m.Source, (slug,), values, r)
    for order, e in enumerate(r.items("excerpts", "excerpt"), 1):
        e.check_fields(["key", "locator", "speaker", "added", "changed", "text"])
        key = e.slug("key")
        e.what = f"excerpt {key!r}"
        values = {
            "text": e.text("text", required=True),
            "locator": e.text("locator", single_line=True),
            "speaker": e.text("speaker", single_line=True),
            "order": order,
            **e.dates(),
        }
        rows.add(m.Excerpt, ((slug,), key), values, e)


CLAIM_FIELDS = [
    "key", "dimension", "support", "applies_to", "status", "outdated", "outdated_since", "superseded_by",
    "added", "changed", "reviewed", "cell", "body", "editor_note", "evidence",
]  # fmt: skip


def _read_claims(rows, path, label):
    subject = path.stem
    for order, record in enumerate(_list_file(path, label), 1):
        r = Reader(label, record, f"claim #{order}")
        r.check_fields(CLAIM_FIELDS)
        key = r.slug("key")
        r.what = f"claim {key!r}"
        superseded_by = r.ref("superseded_by", shape="subject-slug/claim-key")
        values = {
            "dimension": (r.slug("dimension"),),
            "cell": r.text("cell", required=True, single_line=True),
            "support": r.text("support", single_line=True),
            "applies_to": r.text("applies_to", single_line=True),
            "status": r.text("status", single_line=True) or m.Status.DRAFT,
            "outdated": r.boolean("outdated", default=False),
            "outdated_since": r.text("outdated_since", single_line=True),
            "superseded_by": ((superseded_by[0],), superseded_by[1]) if superseded_by else None,
            "body": r.text("body"),
            "editor_note": r.text("editor_note"),
            "order": order,
            "reviewed": r.date("reviewed"),
            **r.dates(),
        }
        rows.add(m.Claim, ((subject,), key), values, r)
        for evidence_order, e in enumerate(r.items("evidence", "evidence"), 1):
            e.check_fields(["excerpt", "stance"])
            excerpt = e.ref("excerpt", required=True)
            e.what = f"claim {key!r}, evidence {'/'.join(excerpt)}"
            values = {"stance": e.text("stance", single_line=True) or m.Stance.SUPPORTS, "order": evidence_order}
            rows.add(m.Evidence, (((subject,), key), ((excerpt[0],), excerpt[1])), values, e)


def _read_task(rows, path, label):
    slug = path.stem
    r = Reader(label, _mapping_file(path, label), f"task {slug!r}")
    r.check_fields(["title", "order", "description", "snippets"])
    values = {
        "title": r.text("title", required=True, single_line=True),
        "order": r.integer("order") or 0,
        "description": r.text("description"),
    }
    rows.add(m.Task, (slug,), values, r)
    for order, s in enumerate(r.items("snippets", "snippet"), 1):
        s.check_fields(
            [
                "subject",
                "language",
                "derived_from",
                "explanation",
                "source_note",
                "runnable",
                "not_runnable_reason",
                "added",
                "changed",
                "code",
            ]
        )
        subject = s.slug("subject")
        language = s.text("language", required=True, single_line=True)
        s.what = f"snippet {subject}/{language}"
        derived = s.ref("derived_from")
        values = {
            "code": s.text("code", required=True),
            "explanation": s.text("explanation"),
            "source_note": s.text("source_note"),
            "runnable": s.boolean("runnable", default=True),
            "not_runnable_reason": s.text("not_runnable_reason"),
            "order": order,
            "derived_from": ((derived[0],), derived[1]) if derived else None,
            **s.dates(),
        }
        rows.add(m.Snippet, ((slug,), (subject,), language), values, s)
