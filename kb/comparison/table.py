"""Comparison tables: which subjects a URL names, and the table of claims about them.

A readers' table is one query: which records of the read model (kb.comparison.models.CellVersion)
are in force for the compared subjects at a content version; each cell's facts and drawn markup
come from this process's memo of immutable records (kb.comparison.cell_memo), or one more query. Rows and
their facts ("contested", "differs") are computed here so the template only prints; filters then
narrow the rows in Python (``kb.comparison.filters.ComparisonFilter``), costing no query.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from django.conf import settings
from django.db.models import Q
from markupsafe import Markup

from kb.comparison.cell import Cell, SubjectRecord
from kb.comparison.cell_memo import columns, memo
from kb.comparison.markup import draw, join_row, markup_key
from kb.comparison.models import CellVersion, SubjectColumn
from kb.comparison.read_model import column_digest, redraw
from kb.comparison.snapshot import cells_of_subjects
from kb.evidence.states import quote_state
from kb.knowledge.models import COMPARE_SEPARATOR, Dimension, Subject, SubjectAlias
from kb.knowledge.urls_memo import reverse

MIN_SUBJECTS = 2
MAX_SUBJECTS = settings.KB_COMPARE_MAX_SUBJECTS
# A URL naming more slugs than this is answered without touching the database.
MAX_REQUESTED_SLUGS = 40
# Only what could be a slug is looked up as a former slug: anything else (a NUL character, which
# PostgreSQL refuses in a query parameter, or 100,000 characters) is unknown without a query.
_LOOKUP_SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,80}")


def compare_url(slugs, view="kb:compare"):
    return reverse(view, kwargs={"spec": tuple(slugs)})


def with_query(url, query_string):
    return f"{url}?{query_string}" if query_string else url


def pinned_url(slugs, version, query=""):
    """The comparison pinned at ``version`` (a version name, kb.comparison.history.version_name), with ``query``."""
    return with_query(reverse("kb:compare-pinned", kwargs={"spec": tuple(slugs), "version": version}), query)


def changes_url(slugs, old, new, query=""):
    """What changed in the comparison from version ``old`` to ``new`` (version names), with ``query``."""
    changes = f"from={old}&to={new}" + (f"&{query}" if query else "")
    return with_query(compare_url(slugs, "kb:compare-changes"), changes)


# Which subjects a comparison names ----------------------------------------------


class SubjectCatalogue:
    """Every subject, loaded once (one query): for resolving slugs, suggesting and the "add" select."""

    def __init__(self, subjects):
        self.subjects = list(subjects)
        self.by_slug = {subject.slug: subject for subject in self.subjects}
        self.by_folded_slug = {subject.slug.casefold(): subject for subject in self.subjects}
        self.by_id = {subject.pk: subject for subject in self.subjects}

    @classmethod
    def load(cls):
        return cls(Subject.objects.with_kind().defer("summary", "summary_html").order_by("name", "slug"))

    def find(self, slug):
        return self.by_slug.get(slug) or self.by_folded_slug.get(slug.casefold())

    def suggestions(self, slug, limit=3):
        """Subjects whose slug or name is close to ``slug`` (difflib), best first."""
        wanted = slug.casefold().replace("_", "-")
        keys = {}
        for subject in self.subjects:
            keys.setdefault(subject.slug.casefold(), subject)
            keys.setdefault(subject.name.casefold(), subject)
        found = []
        for key in difflib.get_close_matches(wanted, keys, n=limit * 2, cutoff=0.6):
            if keys[key] not in found:
                found.append(keys[key])
        # A prefix or a part of a name ("djang", "sql") is a good guess too.
        if len(found) < limit and len(wanted) >= 3:
            for key, subject in sorted(keys.items()):
                if (key.startswith(wanted) or wanted in key.split("-")) and subject not in found:
                    found.append(subject)
        return found[:limit]

    @cached_property
    def _by_kind(self):
        groups = {}
        for subject in self.subjects:
            groups.setdefault(subject.kind, []).append(subject)
        return sorted(groups.items(), key=lambda item: (item[0].order, item[0].name))

    def grouped_by_kind(self, exclude=()):
        """[(kind, [subjects])] in kind order, for <optgroup>s and fieldsets."""
        excluded = {subject.pk for subject in exclude}
        groups = [(kind, [each for each in members if each.pk not in excluded]) for kind, members in self._by_kind]
        return [(kind, members) for kind, members in groups if members]


@dataclass
class Unknown:
    slug: str
    suggestions: list


@dataclass
class Resolution:
    """What a list of requested slugs names: subjects in order, and what was wrong with the list."""

    requested: list
    subjects: list = field(default_factory=list)
    unknown: list = field(default_factory=list)
    renamed: bool = False  # an old slug (SubjectAlias) was used
    too_many_requested: bool = False

    @property
    def slugs(self):
        return [subject.slug for subject in self.subjects]

    @property
    def is_canonical(self):
        return not self.unknown and self.slugs == self.requested

    @property
    def named_count(self):
        """How many different subjects the request names, known or not."""
        if self.too_many_requested:
            return len([slug for slug in self.requested if slug])
        return len(self.subjects) + len(self.unknown)

    @property
    def too_many(self):
        return self.named_count > MAX_SUBJECTS

    @property
    def too_few(self):
        return len(self.subjects) < MIN_SUBJECTS


def resolve_subjects(slugs, catalogue):
    """Match requested slugs to subjects: current slugs first, then old ones (one query, only on a miss).

    Repeats are dropped (first one wins), so ``a-vs-b-vs-a`` names a and b.
    """
    requested = [slug.strip() for slug in slugs]
    resolution = Resolution(requested=requested)
    wanted = [slug for slug in requested if slug]
    if len(wanted) > MAX_REQUESTED_SLUGS:
        resolution.too_many_requested = True
        return resolution
    found = {slug: catalogue.find(slug) for slug in wanted}
    missing = [slug for slug, subject in found.items() if subject is None and _LOOKUP_SLUG_RE.fullmatch(slug)]
    if missing:
        aliases = SubjectAlias.objects.filter(slug__in={slug.casefold() for slug in missing} | set(missing))
        by_alias = {alias.slug.casefold(): catalogue.by_id.get(alias.subject_id) for alias in aliases}
        for slug in missing:
            subject = by_alias.get(slug.casefold())
            if subject is not None:
                found[slug] = subject
                resolution.renamed = True
    for slug in wanted:
        subject = found[slug]
        if subject is None:
            if slug not in [unknown.slug for unknown in resolution.unknown]:
                resolution.unknown.append(Unknown(slug, catalogue.suggestions(slug)))
        elif subject not in resolution.subjects:
            resolution.subjects.append(subject)
    return resolution


def split_spec(spec):
    """The slugs of a ``a-vs-b`` path segment (the URL converter already split it)."""
    if isinstance(spec, str):
        return spec.split(COMPARE_SEPARATOR)
    return list(spec)


# The table ------------------------------------------------------------------------
#
# Readers' cells come from the read model (kb.comparison.models.CellVersion): one query for the
# cells of the compared subjects at a content version, each with its facts and its drawn markup.
# A staff preview's cells are computed fresh (kb.comparison.snapshot), drafts included, and drawn.


class Row:
    """One dimension across the compared subjects. What only the filters and the open data ask (whether the
    subjects differ, the support levels, the sources) is worked out when asked."""

    __slots__ = ("cells", "contested", "dimension", "dimension_url", "group")

    def __init__(self, dimension, dimension_url, cells):
        self.dimension = dimension
        self.dimension_url = dimension_url
        self.group = dimension.group
        self.cells = cells
        self.contested = any([cell.contested for cell in cells])

    @property
    def differs(self):
        return _differs(self.cells)

    @property
    def supports(self):
        return frozenset().union(*[cell.supports for cell in self.cells])

    @property
    def source_slugs(self):
        return frozenset().union(*[cell.source_slugs for cell in self.cells])

    @property
    def cells_html(self):
        """The row's cells drawn, joined as the table prints them (kb.comparison.markup.join_row)."""
        return join_row(self.cells)

    @property
    def claimed_count(self):
        """How many of the compared subjects have a current claim on this dimension."""
        return sum(1 for cell in self.cells if cell.has_current)


def _differs(cells):
    """Whether the subjects differ on a row: their support levels, among the subjects that have a claim.

    A row where fewer than two subjects have a (current) claim compares nothing, so it does not differ.
    On a qualitative dimension (no claim carries a support level) the cells' texts are compared instead.
    """
    filled = [cell for cell in cells if cell.has_current]
    if len(filled) < 2:
        return False
    if any(cell.supports for cell in filled):
        return len({cell.supports for cell in filled}) > 1
    return len({cell.text_key for cell in filled}) > 1


@dataclass
class GroupBlock:
    group: object
    rows: list


class SourceChoice(NamedTuple):
    slug: str
    title: str


class Column(NamedTuple):
    """A compared subject as the table's header shows it (at the table's content version)."""

    pk: int
    slug: str
    name: str
    kind: str
    url: str


def _url_pattern(name, *fixed):
    """reverse() once, then fill in the last (slug) argument by substitution: reverse() per cell is too slow."""
    placeholder = "url-slug-placeholder"
    pattern = reverse(name, args=[*fixed, placeholder])
    return lambda slug: pattern.replace(placeholder, slug)


class ComparisonTable:
    """Rows (dimensions where a compared subject has a claim) by columns (subjects, in URL order).

    ``cells``: the cells with claims (kb.comparison.cell.Cell), any order. ``version``: the content
    generation the table shows (None for a staff preview).
    """

    def __init__(self, subjects, cells, *, version=None, dimension_count=None):
        self.subjects = list(subjects)
        self.version = version
        self.cells = cells = list(cells)
        by_key = {cell.key: cell for cell in cells}
        # The header names each subject as its cells did at this version (a pinned page never changes).
        shown = {key[0]: cell.subject for key, cell in by_key.items()}
        subject_url = _url_pattern("kb:subject")
        self.columns = []
        for subject in self.subjects:
            record = shown.get(subject.pk)
            name, slug = (record.name, record.slug) if record else (subject.name, subject.slug)
            kind = record.kind if record else subject.kind.name
            self.columns.append(Column(subject.pk, slug, name, kind, subject_url(slug)))
        dimensions = {key[1]: cell.dimension for key, cell in by_key.items()}
        dimension_url = _url_pattern("kb:dimension")
        records = [SubjectRecord(column.pk, column.slug, column.name, column.kind) for column in self.columns]
        self.rows = []
        for dimension in sorted(dimensions.values(), key=lambda each: (each.sort_key, each.pk)):
            pk = dimension.pk
            row_cells = [by_key.get((record.pk, pk)) or Cell.empty(record, dimension) for record in records]
            self.rows.append(Row(dimension, dimension_url(dimension.slug), row_cells))
        self.empty_dimension_count = (dimension_count - len(self.rows)) if dimension_count is not None else 0
        # Every dimension there is when known (not on a pinned page), else the rows with a claim.
        self.dimension_count = dimension_count

    @property
    def content_date(self):
        """The latest content date of the table's published claims (kb.comparison.citation), or None."""
        return max([cell.content_date for cell in self.cells if cell.content_date], default=None)

    @cached_property
    def groups(self):
        """The dimension groups of the table's rows, in display order (the group filter's choices)."""
        seen = {}
        for row in self.rows:
            seen.setdefault(row.group.pk, row.group)
        return list(seen.values())

    @cached_property
    def sources(self):
        """Every source cited by the table's current claims, by title (the source filter's choices)."""
        sources = {}
        for row in self.rows:
            for cell in row.cells:
                sources.update(cell.source_titles)
        choices = [SourceChoice(slug, title) for slug, title in sources.items()]
        return sorted(choices, key=lambda source: (source.title.casefold(), source.slug))

    @staticmethod
    def blocks(rows):
        """Rows under their group headings, keeping display order."""
        blocks = []
        for row in rows:
            if not blocks or blocks[-1].group.pk != row.group.pk:
                blocks.append(GroupBlock(row.group, []))
            blocks[-1].rows.append(row)
        return blocks


def _cells_by_digest(addresses, key):
    """Cells for [(subject id, digest, markup key, pk)] rows: from the memo, the rest in one query by primary key
    (redrawn if drawn with other templates). {(digest, markup key): Cell}."""
    found = memo.get_many([(digest, key) for _subject_id, digest, _drawn_with, _pk in addresses])
    missing = {pk: drawn_with for _subject_id, digest, drawn_with, pk in addresses if (digest, key) not in found}
    if not missing:
        return found
    stale = [pk for pk, drawn_with in missing.items() if drawn_with != key]
    redrawn = {record.pk: record.html for record in redraw(CellVersion.objects.filter(pk__in=stale))} if stale else {}
    read = {
        (digest, key): Cell(json.loads(facts), Markup(redrawn.get(pk, html)))
        for pk, digest, facts, html in CellVersion.objects.filter(pk__in=list(missing)).values_list(
            "pk", "digest", "facts", "html"
        )
    }
    memo.set_many(read)
    found.update(read)
    return found


def stored_cells(subject_ids, version=None, *, with_data=False):
    """The read model's cells of these subjects at content ``version`` (None: now).

    One query for the records in force; the cells' facts and markup come from this process's memo
    (kb.comparison.cell_memo, by content address) or, for those it lacks, one more query. With
    ``with_data`` (the open data), the cells' data too, in one query.
    """
    records = CellVersion.objects.at(version).of_subjects(subject_ids).order_by()
    key = markup_key()
    if with_data:
        rows = list(records.values_list("pk", "facts", "html", "markup_key", "data"))
        if any(row[3] != key for row in rows):
            redraw(CellVersion.objects.filter(pk__in=[row[0] for row in rows if row[3] != key]))
            rows = list(records.values_list("pk", "facts", "html", "markup_key", "data"))
        return [Cell(json.loads(facts), Markup(html), data) for _pk, facts, html, _key, data in rows]
    addresses = list(records.values_list("subject_id", "digest", "markup_key", "pk"))
    found = _cells_by_digest(addresses, key)
    return [found[address[1], key] for address in addresses]


def readers_cells(subject_ids, state):
    """The cells readers see now (``state``: the kb.knowledge.models.ContentState read for this request).

    Each subject's column (kb.comparison.models.SubjectColumn) has a content address, the digest of its
    records: a column this process has read comes from its memo under that address, never stale; the
    others are read as they stood when they last changed (or at this request's version if they changed
    since), and kept only if what was read has that address. One query when every column is known; at
    most three otherwise.
    """
    key = markup_key()
    known = SubjectColumn.objects.addresses(subject_ids)
    names = {subject_id: ("column", digest, key) for subject_id, (_at, digest) in known.items()}
    found = columns.get_many(list(names.values()))
    wanted = [subject_id for subject_id in known if names[subject_id] not in found]
    if wanted:
        condition = Q()
        for subject_id in wanted:
            at = min(known[subject_id][0], state.generation)
            condition |= Q(subject_id=subject_id, valid_from__lte=at) & (Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        addresses = list(
            CellVersion.objects.filter(condition).order_by().values_list("subject_id", "digest", "markup_key", "pk")
        )
        cells = _cells_by_digest(addresses, key)
        read = {subject_id: [] for subject_id in wanted}
        for subject_id, digest, _drawn_with, _pk in addresses:
            read[subject_id].append((digest, cells[digest, key]))
        kept = {}
        for subject_id, pairs in read.items():
            found[names[subject_id]] = column = tuple(cell for _digest, cell in pairs)
            if column_digest([digest for digest, _cell in pairs]) == known[subject_id][1]:
                kept[names[subject_id]] = column
        columns.set_many(kept)
    return [cell for subject_id in subject_ids if subject_id in names for cell in found[names[subject_id]]]


def fresh_cells(subject_ids, *, preview=False):
    """The cells of these subjects computed from the database now and drawn (a staff preview's table)."""
    cells = [Cell.from_data(data) for data in cells_of_subjects(subject_ids, preview=preview).values()]
    for cell, html in zip(cells, draw(cells), strict=True):
        cell.html = Markup(html)
    return cells


class Frame(NamedTuple):
    """What frames every comparison at one content version: the subjects (to resolve URLs) and the dimensions' count."""

    catalogue: SubjectCatalogue
    dimension_count: int


def frame(state):
    """The Frame of content ``state`` (kb.knowledge.models.ContentState), read once per process until the subjects,
    their kinds or the dimensions change.

    Named by the epoch and the time of that change (``frame_changed``), which no other content shares: a write
    that touches only claims and evidence keeps the frame. Where that time is not known, by the generation and
    the time of its change (a generation number that a rolled-back write used is given again with another time).
    """
    if state.frame_changed is not None:
        key = ("frame", state.epoch, state.frame_changed)
    else:
        key = ("frame", state.epoch, state.generation, state.changed)
    found = columns.get_many([key]).get(key)
    if found is None:
        found = Frame(SubjectCatalogue.load(), Dimension.objects.count())
        columns.set_many({key: found})
    return found


def build_table(subjects, *, preview=False, version=None, with_data=False, dimension_count=None, state=None):
    """The comparison of ``subjects`` (in this order): a staff preview's computed fresh, else the read model's.

    ``version``: the content generation to show (None: now); ``state``: the content a reader's live page
    shows (kb.knowledge.models.ContentState), whose columns this process may have read already;
    ``dimension_count``: how many dimensions there are (for the note on those without claims; a pinned
    page does not say, as that number changes).
    """
    subjects = list(subjects)
    ids = [subject.pk for subject in subjects]
    if preview:
        count = Dimension.objects.count() if dimension_count is None else dimension_count
        return ComparisonTable(subjects, fresh_cells(ids, preview=True), dimension_count=count)
    if state is not None and not with_data:  # a reader's live page: the columns of this process's memo
        return ComparisonTable(
            subjects, readers_cells(ids, state), version=state.generation, dimension_count=dimension_count
        )
    cells = stored_cells(ids, version, with_data=with_data)
    return ComparisonTable(subjects, cells, version=version, dimension_count=dimension_count)


# Open data ---------------------------------------------------------------------------


def _date(value):
    return value.isoformat() if value else None


def table_as_data(table, rows, *, absolute, filters=None, errors=None, preview=False):
    """The rows (filters applied) and their provenance as plain data for JSON.

    ``absolute`` turns a site path into an absolute URL.
    """
    excerpts = {}
    sources = {}
    data_rows = []
    for row in rows:
        cells = []
        for cell in row.cells:
            claims = []
            for claim in cell.claims:
                evidence_data = []
                for evidence in claim.evidence:
                    excerpt = evidence.excerpt
                    source = excerpt.source
                    excerpts.setdefault(
                        excerpt.ref,
                        {
                            "source": source.slug,
                            "key": excerpt.key,
                            "text": excerpt.text,
                            "locator": excerpt.locator or None,
                            "speaker": excerpt.speaker or None,
                            "url": absolute(excerpt.page_url),
                            "verification": excerpt.verification,
                            # The one state of a quote every page shows (kb.evidence.states).
                            "state": quote_state(excerpt),
                            "capture_sha256": excerpt.verified_sha256 or None,
                        },
                    )
                    sources.setdefault(
                        source.slug,
                        {
                            "slug": source.slug,
                            "title": source.title,
                            "kind": source.kind,
                            "author": source.author or None,
                            "publisher": source.publisher or None,
                            "url": source.url or None,
                            "published": _date(source.published),
                            "updated": _date(source.updated_on),
                            "captured": _date(source.captured),
                            "page": absolute(source.page_url),
                        },
                    )
                    evidence_data.append({"excerpt": excerpt.ref, "stance": evidence.stance})
                claims.append(
                    {
                        "key": claim.key,
                        "url": absolute(claim.url),
                        "cell": claim.cell,
                        "support": claim.support or None,
                        "status": claim.status,
                        "outdated": claim.outdated,
                        "outdated_since": claim.outdated_since or None,
                        "superseded_by": claim.successor_ref or None,
                        "applies_to": claim.applies_to or None,
                        "added": _date(claim.added),
                        "changed": _date(claim.changed),
                        "reviewed": _date(claim.reviewed),
                        "body_html": claim.body_html,
                        "editor_note_html": claim.editor_note_html or None,
                        "evidence": evidence_data,
                    }
                )
            cells.append(
                {
                    "subject": cell.subject.slug,
                    "id": cell.dom_id,
                    "contested": cell.contested,
                    "source_count": cell.source_count,
                    "claims": claims,
                }
            )
        data_rows.append(
            {
                "group": {"slug": row.group.slug, "name": row.group.name},
                "dimension": {
                    "slug": row.dimension.slug,
                    "name": row.dimension.name,
                    "url": absolute(row.dimension_url),
                },
                "differs": row.differs,
                "claimed_count": row.claimed_count,
                "contested": row.contested,
                "cells": cells,
            }
        )
    return {
        "subjects": [
            {
                "slug": subject.slug,
                "name": subject.name,
                "kind": subject.kind.slug,
                "url": absolute(subject.get_absolute_url()),
            }
            for subject in table.subjects
        ],
        "url": absolute(compare_url([subject.slug for subject in table.subjects])),
        "preview": preview,
        "filters": filters or {},
        "filter_errors": errors or {},
        "row_count": len(data_rows),
        "rows": data_rows,
        "excerpts": dict(sorted(excerpts.items())),
        "sources": dict(sorted(sources.items())),
    }


CSV_HEADER = [
    "group",
    "dimension",
    "subject",
    "support",
    "cell",
    "contested",
    "status",
    "outdated",
    "outdated_since",
    "superseded_by",
    "applies_to",
    "claim_url",
    "source_titles",
    "excerpt_keys",
    "verification",
]
# Spreadsheets run a cell starting with these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value):
    value = "" if value is None else str(value)
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def table_as_csv_rows(rows, *, absolute):
    """One row per (dimension, subject, claim); a cell without claims still gets a row, with blank claim fields.

    Outdated claims are rows too, marked so (``outdated``): they never set ``contested``.
    """
    yield CSV_HEADER
    for row in rows:
        for cell in row.cells:
            contested = "yes" if cell.contested else "no"
            if not cell.claims:
                names = [_csv_safe(v) for v in (row.group.name, row.dimension.name, cell.subject.name)]
                yield [*names, "", "", contested] + [""] * (len(CSV_HEADER) - 6)
                continue
            for claim in cell.claims:
                titles = []
                for evidence in claim.evidence:
                    if evidence.excerpt.source.title not in titles:
                        titles.append(evidence.excerpt.source.title)
                yield [
                    _csv_safe(row.group.name),
                    _csv_safe(row.dimension.name),
                    _csv_safe(cell.subject.name),
                    claim.support,
                    _csv_safe(claim.cell),
                    contested,
                    claim.status,
                    "yes" if claim.outdated else "no",
                    _csv_safe(claim.outdated_since),
                    claim.successor_ref,
                    _csv_safe(claim.applies_to),
                    absolute(claim.url),
                    _csv_safe("; ".join(titles)),
                    "; ".join(evidence.excerpt.ref for evidence in claim.evidence),
                    "; ".join(_verification(evidence.excerpt) for evidence in claim.evidence),
                ]


def _verification(excerpt):
    sha = f" ({excerpt.verified_sha256[:12]})" if excerpt.verified_sha256 else ""
    return f"{excerpt.ref}: {quote_state(excerpt)}{sha}"
