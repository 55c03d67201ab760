"""The content format, declared once: what each file holds, field by field, and where it goes in the database.

Every kind of record has one ``Spec``: its model, its natural key (slugs, never ids), and its
fields in the order the files write them, each with the type that reads, writes and
normalises it. ``FILES`` says which file holds which records. The reader
(kb.content.files), the writer (kb.content.exporter), the database's side of a sync
(kb.content.database) and the sync itself (kb.content.sync) all work from these
declarations and nothing else, so a field added here appears everywhere:

    Field("homepage", LINE),                     # a single line of text, written when not empty
    Field("updated", DATE, attr="updated_on"),   # the file's name for a model field of another name
    Field("kind", Ref(m.SubjectKind), required=True),  # a foreign key, written as the target's key

Add the model field (and its migration), then its ``Field`` in its place in the spec below.
"""

import datetime
import re
from dataclasses import dataclass
from functools import cached_property

from kb.knowledge import models as m

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")


# Types of values: how each is read from a file, written to one, and normalised from the database ----------


def moment(value):
    """A stored date and time as the files write it: UTC, whole seconds."""
    return value.astimezone(datetime.UTC).replace(microsecond=0) if value else None


def clean_text(value):
    """Text as the files hold it: plain line ends, no trailing whitespace."""
    return (value or "").replace("\r\n", "\n").rstrip()


class Type:
    """A type of value. ``read`` takes it from a record (kb.content.files.Reader), ``write`` gives
    what the file says (None: left out), ``from_db`` normalises a database value the way ``read``
    normalises a file's."""

    def read(self, reader, name, required):
        raise NotImplementedError

    def write(self, value):
        return value if value not in (None, "") else None

    def from_db(self, value):
        return value


class Text(Type):
    def __init__(self, single_line=False):
        self.single_line = single_line

    def read(self, reader, name, required):
        return reader.text(name, required=required, single_line=self.single_line)

    def from_db(self, value):
        return clean_text(value)


class Slug(Text):
    def __init__(self):
        super().__init__(single_line=True)

    def read(self, reader, name, required):
        return reader.slug(name, required=required)


class Hex64(Text):
    """A SHA-256 written as 64 lowercase hexadecimal digits."""

    def __init__(self):
        super().__init__(single_line=True)

    def read(self, reader, name, required):
        value = reader.text(name, required=required, single_line=True)
        if value and not re.fullmatch(r"[0-9a-f]{64}", value):
            raise reader.error(f"field {name!r} must be 64 lowercase hexadecimal digits, not {value!r}")
        return value


class ComparisonPath(Text):
    """Subject slugs joined by ``-vs-``."""

    def __init__(self):
        super().__init__(single_line=True)

    def read(self, reader, name, required):
        value = reader.text(name, required=required, single_line=True)
        if value and not all(SLUG_RE.match(slug) for slug in value.split(m.COMPARE_SEPARATOR)):
            raise reader.error(f"field {name!r} must be subject slugs joined by {m.COMPARE_SEPARATOR!r}, not {value!r}")
        return value


class Words(Text):
    """Words separated by spaces, each a slug (kept with single spaces between them)."""

    def __init__(self):
        super().__init__(single_line=True)

    def read(self, reader, name, required):
        value = reader.text(name, required=required, single_line=True)
        if not all(SLUG_RE.match(word) for word in value.split()):
            raise reader.error(f"field {name!r} must be words separated by spaces, not {value!r}")
        return " ".join(value.split())

    def from_db(self, value):
        return " ".join((value or "").split())


class Integer(Type):
    def __init__(self, default=None):
        self.default = default

    def read(self, reader, name, required):
        value = reader.integer(name)
        return self.default if value is None else value


class Boolean(Type):
    """Written only when it is not the default."""

    def __init__(self, default):
        self.default = default

    def read(self, reader, name, required):
        return reader.boolean(name, default=self.default)

    def write(self, value):
        return None if value == self.default else value


class Date(Type):
    def read(self, reader, name, required):
        return reader.date(name)


class Moment(Type):
    """A date and time in UTC, whole seconds (``2026-11-28 09:30:00+00:00``)."""

    def read(self, reader, name, required):
        return reader.moment(name)

    def from_db(self, value):
        return moment(value)


class Ref(Type):
    """A foreign key to a record keyed by one slug, written as that slug; the row holds ``(slug,)``."""

    def __init__(self, target):
        self.target = target

    def read(self, reader, name, required):
        slug = reader.slug(name, required=required)
        return (slug,) if slug else None

    def write(self, value):
        return value[0] if value else None


class PairRef(Ref):
    """A foreign key to a record keyed by its parent's slug and a key, written ``<parent>/<key>``."""

    def __init__(self, target, shape):
        super().__init__(target)
        self.shape = shape

    def read(self, reader, name, required):
        pair = reader.ref(name, required=required, shape=self.shape)
        return ((pair[0],), pair[1]) if pair else None

    def write(self, value):
        return f"{value[0][0]}/{value[1]}" if value else None


class Versions(Type):
    """What a run ran with: a mapping of names to versions in quotes, kept in the file's order
    (stored as a list of [name, version] pairs, so every database keeps the order)."""

    def read(self, reader, name, required):
        value = reader.record.get(name) or {}
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise reader.error(f"field {name!r} must map each name to its version in quotes (Python: '3.11.2')")
        return [[key, version] for key, version in value.items()]

    def write(self, value):
        return dict(value) if value else None

    def from_db(self, value):
        return [list(pair) for pair in value or []]


def _same(value):
    return value


LINE, TEXT, SLUG, DATE, MOMENT = Text(single_line=True), Text(), Slug(), Date(), Moment()


# Fields and records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One value of a record: its name in the file, its type, and the model field it fills."""

    name: str
    type: Type
    attr: str = ""  # the model field (default: the same name)
    required: bool = False
    default: object = None  # what a missing value reads as (e.g. a claim's status)

    def __post_init__(self):
        object.__setattr__(self, "attr", self.attr or self.name)


@dataclass(frozen=True)
class Block:
    """A mapping in the file that groups some of a record's fields (a source's ``capture``)."""

    name: str
    fields: tuple


@dataclass(frozen=True)
class Nested:
    """A list of child records written inside their parent (a source's ``excerpts``)."""

    name: str
    spec: "Spec"


DATES = (Field("added", MOMENT), Field("changed", MOMENT))


@dataclass(frozen=True, eq=False)
class Spec:
    """One kind of record: model, natural key, and the fields in the order the files write them.

    ``parent`` is the foreign key to the record it is written inside (or whose file it is in);
    ``order`` says where its ``order`` comes from: ``"position"`` (its place in its list, from 1),
    ``"file"`` (its place in the whole file: dimensions across groups), or None (a field of its
    own, or no order: such records are written sorted by key). ``scalar`` records are written as
    their bare key (a subject's ``old_slugs``).
    """

    model: type
    key: tuple  # model fields forming the natural key (foreign keys stand for their target's key)
    fields: tuple = ()  # Field, Block and Nested, in the order the files write them
    what: str = ""  # how messages name one of them
    parent: str = ""
    order: str | None = None
    scalar: bool = False
    late: tuple = ()  # foreign keys to the same model, set once all its rows exist

    @property
    def label(self):
        return self.model._meta.verbose_name

    @cached_property
    def values(self):
        """Every Field that fills a model field, blocks opened, children left out."""
        found = []
        for item in self.fields:
            if isinstance(item, Field):
                found.append(item)
            elif isinstance(item, Block):
                found.extend(item.fields)
        return tuple(found)

    def normalise(self, attr):
        """How a database value of ``attr`` reads as the files would say it."""
        found = next((f for f in self.values if f.attr == attr), None)
        return found.type.from_db if found and not isinstance(found.type, Ref) else _same

    @cached_property
    def children(self):
        return tuple(item for item in self.fields if isinstance(item, Nested))

    @cached_property
    def value_fields(self):
        """Fields outside the key: what a row's ``values`` hold (with ``order`` and the parent link)."""
        return tuple(f for f in self.values if f.attr not in self.key)

    @cached_property
    def plain(self):
        """Model fields the rows carry that are not foreign keys: compared and written by the loader."""
        names = [f.attr for f in self.value_fields if not isinstance(f.type, Ref)]
        return tuple(names + (["order"] if self.order and "order" not in names else []))

    @cached_property
    def refs(self):
        """Foreign keys outside the key, with their target models (the parent link included)."""
        refs = {f.attr: f.type.target for f in self.value_fields if isinstance(f.type, Ref) and f.attr not in self.late}
        if self.parent and self.parent not in self.key:
            refs[self.parent] = self.model._meta.get_field(self.parent).related_model
        return refs

    @cached_property
    def late_refs(self):
        return {name: self.model for name in self.late}

    @cached_property
    def key_refs(self):
        """Foreign keys that are part of the natural key, with their target models."""
        return {name: self.model._meta.get_field(name).related_model for name in self.key if self.is_fk(name)}

    def is_fk(self, name):
        return self.model._meta.get_field(name).is_relation


@dataclass(frozen=True)
class FileType:
    """Where records live: ``kinds.yaml`` (a list), ``subjects/<slug>.yaml`` (one record), or
    ``claims/<subject>.yaml`` (a list of the records whose ``named_by`` key field is that slug)."""

    path: str  # with "{}" for the slug when there is one file per slug
    spec: Spec
    many: bool = False  # a list of records (else one record, a mapping)
    named_by: str = ""  # the key field the file's name gives
    optional: bool = False  # left out when it would hold no record

    @property
    def folder(self):
        return self.path.split("/")[0] if "{}" in self.path else ""


# The declarations ----------------------------------------------------------------------------------------

KIND = Spec(
    m.SubjectKind, key=("slug",), what="kind", order="position",
    fields=(Field("slug", SLUG, required=True), Field("name", LINE, required=True), Field("description", TEXT)),
)  # fmt: skip
ALIAS = Spec(m.SubjectAlias, key=("slug",), what="old slug", parent="subject", scalar=True,
             fields=(Field("slug", SLUG, required=True),))  # fmt: skip
RELATION = Spec(
    m.SubjectRelation, key=("subject", "kind", "target"), what="relation", parent="subject",
    fields=(Field("kind", LINE, required=True), Field("target", Ref(m.Subject), required=True)),
)  # fmt: skip
RUNNER = Spec(
    m.SubjectRunner, key=("subject", "language"), what="runner", parent="subject",
    fields=(Field("language", LINE, required=True), Field("runner", LINE, required=True), Field("driver", TEXT)),
)  # fmt: skip
SUBJECT = Spec(
    m.Subject, key=("slug",), what="subject",
    fields=(
        Field("name", LINE, required=True), Field("kind", Ref(m.SubjectKind), required=True),
        Field("homepage", LINE), Field("first_release", Integer()), Nested("old_slugs", ALIAS),
        Nested("relations", RELATION), Nested("runners", RUNNER), Field("summary", TEXT),
    ),
)  # fmt: skip
DIMENSION = Spec(
    m.Dimension, key=("slug",), what="dimension", parent="group", order="file",
    fields=(Field("slug", SLUG, required=True), Field("name", LINE, required=True), Field("description", TEXT)),
)  # fmt: skip
GROUP = Spec(
    m.DimensionGroup, key=("slug",), what="group", order="position",
    fields=(
        Field("slug", SLUG, required=True), Field("name", LINE, required=True), Field("description", TEXT),
        Nested("dimensions", DIMENSION),
    ),
)  # fmt: skip
EXCERPT = Spec(
    m.Excerpt, key=("source", "key"), what="excerpt", parent="source", order="position",
    fields=(
        Field("key", SLUG, required=True), Field("locator", LINE), Field("speaker", LINE), *DATES,
        Field("text", TEXT, required=True),
    ),
)  # fmt: skip
SOURCE = Spec(
    m.Source, key=("slug",), what="source",
    fields=(
        Field("title", LINE, required=True), Field("kind", LINE, required=True), Field("author", LINE),
        Field("publisher", LINE), Field("url", LINE), Field("licence", LINE), Field("published", DATE),
        Field("updated", DATE, attr="updated_on"), Field("archive", LINE),
        Block("capture", (Field("sha256", Hex64(), attr="capture_sha256", required=True),
                          Field("characters", Integer(), attr="capture_characters"),
                          Field("captured", DATE))),
        Field("documents", Ref(m.Subject)), Field("notes", TEXT), Nested("excerpts", EXCERPT),
    ),
)  # fmt: skip
EVIDENCE = Spec(
    m.Evidence, key=("claim", "excerpt"), what="evidence", parent="claim", order="position",
    fields=(
        Field("excerpt", PairRef(m.Excerpt, "source-slug/excerpt-key"), required=True),
        Field("stance", LINE, default=m.Stance.SUPPORTS),
    ),
)  # fmt: skip
CLAIM = Spec(
    m.Claim, key=("subject", "key"), what="claim", parent="subject", order="position", late=("superseded_by",),
    fields=(
        Field("key", SLUG, required=True), Field("dimension", Ref(m.Dimension), required=True),
        Field("support", LINE), Field("applies_to", LINE), Field("status", LINE, default=m.Status.DRAFT),
        Field("outdated", Boolean(default=False)), Field("outdated_since", LINE),
        Field("superseded_by", PairRef(m.Claim, "subject-slug/claim-key")), *DATES, Field("reviewed", DATE),
        Field("cell", LINE, required=True), Field("body", TEXT), Field("editor_note", TEXT),
        Nested("evidence", EVIDENCE),
    ),
)  # fmt: skip
SNIPPET = Spec(
    m.Snippet, key=("task", "subject", "language"), what="snippet", parent="task", order="position",
    fields=(
        Field("subject", Ref(m.Subject), required=True), Field("language", LINE, required=True),
        Field("path", LINE), Field("derived_from", PairRef(m.Excerpt, "source-slug/excerpt-key")),
        Field("explanation", TEXT), Field("source_note", TEXT), Field("runnable", Boolean(default=True)),
        Field("not_runnable_reason", TEXT), *DATES,
        Block("run", (Field("ran", MOMENT, required=True), Field("outcome", LINE, attr="run_outcome", required=True),
                      Field("runner", LINE, attr="run_runner"), Field("versions", Versions(), attr="run_versions"),
                      Field("fingerprint", Hex64(), attr="run_fingerprint"), Field("error", TEXT, attr="run_error"))),
        Field("code", TEXT, required=True), Field("check_summary", LINE), Field("check", TEXT, attr="check_code"),
    ),
)  # fmt: skip
TASK = Spec(
    m.Task, key=("slug",), what="task",
    fields=(Field("title", LINE, required=True), Field("order", Integer(default=0)), Field("description", TEXT),
            Nested("snippets", SNIPPET)),
)  # fmt: skip
FEATURED = Spec(
    m.FeaturedComparison, key=("path",), what="featured comparison", order="position",
    fields=(Field("path", ComparisonPath(), required=True), Field("title", LINE), Field("note", TEXT)),
)  # fmt: skip

SYNONYMS = Spec(
    m.SynonymGroup, key=("term",), what="synonym group", order="position",
    fields=(Field("term", SLUG, required=True), Field("words", Words(), required=True), Field("note", TEXT)),
)  # fmt: skip

FILES = (
    FileType("kinds.yaml", KIND, many=True),
    FileType("dimensions.yaml", GROUP, many=True),
    FileType("featured.yaml", FEATURED, many=True, optional=True),
    FileType("synonyms.yaml", SYNONYMS, many=True, optional=True),
    FileType("subjects/{}.yaml", SUBJECT, named_by="slug"),
    FileType("sources/{}.yaml", SOURCE, named_by="slug"),
    FileType("claims/{}.yaml", CLAIM, many=True, named_by="subject"),
    FileType("snippets/{}.yaml", TASK, named_by="slug"),
)

# In dependency order: a spec's key and refs only refer to specs before it; its late refs (to its
# own model, e.g. a claim's superseded_by) are set once all its rows exist.
SPECS = (KIND, SUBJECT, ALIAS, RELATION, RUNNER, GROUP, DIMENSION, SOURCE, EXCERPT, CLAIM, EVIDENCE, TASK,
         SNIPPET, FEATURED, SYNONYMS)  # fmt: skip
SPEC_BY_MODEL = {spec.model: spec for spec in SPECS}
CONTENT_MODELS = tuple(SPEC_BY_MODEL)
TOP_LEVEL_FILES = frozenset(f.path for f in FILES if not f.folder)
CONTENT_DIRS = tuple(f.folder for f in FILES if f.folder)
