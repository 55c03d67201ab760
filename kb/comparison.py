"""Comparison tables: which subjects a URL names, and the table of claims about them.

A table is built from a fixed handful of queries, whatever its size (the Django
Packages grid pattern): every subject once, every dimension once, every visible
claim about the compared subjects once and their evidence once. A
``{dimension_id: {subject_id: [claims]}}`` map is then built in Python, and each
row and cell is precomputed here (badges, URLs, "contested", "differs") so the
template only prints. Filters then narrow the rows in Python
(``kb.filters.ComparisonFilter``), costing no query.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from django.conf import settings
from django.urls import reverse

from .models import COMPARE_SEPARATOR, Claim, Dimension, Evidence, Stance, Status, Subject, SubjectAlias, Support

MIN_SUBJECTS = 2
MAX_SUBJECTS = settings.KB_COMPARE_MAX_SUBJECTS
# A URL naming more slugs than this is answered without touching the database.
MAX_REQUESTED_SLUGS = 40
# Only what could be a slug is looked up as a former slug: anything else (a NUL character, which
# PostgreSQL refuses in a query parameter, or 100,000 characters) is unknown without a query.
_LOOKUP_SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,80}")

# Support level -> (icon, class suffix). The icon is a shape, so that no badge
# relies on colour alone; the words come from Support's labels. The icons are
# the ones the support_badge macro (templates/jinja2/includes/claims.html) uses on the other pages.
SUPPORT_ICONS = {
    Support.BUILT_IN: "✓",
    Support.EXTENSION: "⊕",
    Support.PARTIAL: "◐",
    Support.NOT_PROVIDED: "✗",
    Support.NOT_APPLICABLE: "⊘",
    Support.UNKNOWN: "?",
}
STANCE_ICONS = {Stance.SUPPORTS: "▲", Stance.CONTRADICTS: "▼", Stance.QUALIFIES: "◆"}
SUPPORT_LABELS = dict(Support.choices)
STANCE_LABELS = dict(Stance.choices)
STATUS_LABELS = dict(Status.choices)
SOURCE_MARK_LENGTH = 22


def compare_url(slugs, view="kb:compare"):
    return reverse(view, kwargs={"spec": list(slugs)})


def with_query(url, query_string):
    return f"{url}?{query_string}" if query_string else url


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

    def grouped_by_kind(self, exclude=()):
        """[(kind, [subjects])] in kind order, for <optgroup>s and fieldsets."""
        groups = {}
        for subject in self.subjects:
            if subject not in exclude:
                groups.setdefault(subject.kind, []).append(subject)
        return sorted(groups.items(), key=lambda item: (item[0].order, item[0].name))


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
# Claims, evidence, excerpts and sources are read with values_list() into small
# records, not model instances: a table of 10 subjects x 100 dimensions holds
# thousands of them, and building models (and prefetch querysets) for each would
# cost more than the whole page's budget.


class GroupRecord:
    __slots__ = ("name", "pk", "slug")

    def __init__(self, pk, slug, name):
        self.pk = pk
        self.slug = slug
        self.name = name


class DimensionRecord:
    __slots__ = ("group", "name", "pk", "slug")

    def __init__(self, pk, slug, name, group):
        self.pk = pk
        self.slug = slug
        self.name = name
        self.group = group


def _dimensions():
    """Every dimension in display order, with its group, as small records (one query)."""
    groups = {}
    dimensions = []
    rows = Dimension.objects.in_order().values_list("pk", "slug", "name", "group_id", "group__slug", "group__name")
    for pk, slug, name, group_id, group_slug, group_name in rows:
        group = groups.get(group_id)
        if group is None:
            group = groups[group_id] = GroupRecord(group_id, group_slug, group_name)
        dimensions.append(DimensionRecord(pk, slug, name, group))
    return dimensions


class SourceRecord:
    __slots__ = (
        "author",
        "captured",
        "id",
        "kind",
        "page_url",
        "published",
        "publisher",
        "slug",
        "title",
        "updated_on",
        "url",
    )

    def __init__(self, pk, slug, title, kind, author, publisher, url, published, updated_on, captured, page_url):
        self.id = pk
        self.slug = slug
        self.title = title
        self.kind = kind
        self.author = author
        self.publisher = publisher
        self.url = url
        self.published = published
        self.updated_on = updated_on
        self.captured = captured
        self.page_url = page_url

    @property
    def mark(self):
        """A short name for the source chip of a closed cell: the publisher, else the title, shortened."""
        name = self.publisher or self.title
        return name if len(name) <= SOURCE_MARK_LENGTH else name[: SOURCE_MARK_LENGTH - 1].rstrip() + "…"


class ExcerptRecord:
    __slots__ = ("id", "key", "locator", "page_url", "source", "speaker", "text", "verification", "verified_sha256")

    def __init__(self, pk, key, text, locator, speaker, verification, verified_sha256, source):
        self.id = pk
        self.key = key
        self.text = text
        self.locator = locator
        self.speaker = speaker
        self.verification = verification
        self.verified_sha256 = verified_sha256
        self.source = source
        self.page_url = f"{source.page_url}#excerpt-{key}"

    def get_absolute_url(self):
        """As Excerpt's: the citation macro takes either."""
        return self.page_url

    @property
    def ref(self):
        return f"{self.source.slug}/{self.key}"


class EvidenceRecord:
    __slots__ = ("excerpt", "stance")

    def __init__(self, stance, excerpt):
        self.stance = stance
        self.excerpt = excerpt


class ClaimRecord:
    __slots__ = (
        "added",
        "applies_to",
        "body_html",
        "cell",
        "dimension_id",
        "editor_note_html",
        "evidence",
        "id",
        "key",
        "outdated",
        "outdated_since",
        "status",
        "subject_id",
        "superseded_by",
        "superseded_by_id",
        "support",
        "url",
    )

    def __init__(
        self,
        pk,
        subject_id,
        dimension_id,
        key,
        cell,
        support,
        status,
        body_html,
        editor_note_html,
        applies_to,
        outdated,
        outdated_since,
        superseded_by_id,
        added,
        url,
    ):
        self.id = pk
        self.subject_id = subject_id
        self.dimension_id = dimension_id
        self.key = key
        self.cell = cell
        self.support = support
        self.status = status
        self.body_html = body_html
        self.editor_note_html = editor_note_html
        self.applies_to = applies_to
        self.outdated = outdated
        self.outdated_since = outdated_since
        self.superseded_by_id = superseded_by_id
        self.added = added
        self.superseded_by = None  # the successor's ClaimRecord, when it is in the table
        self.url = url
        self.evidence = []

    @property
    def is_draft(self):
        return self.status != Status.PUBLISHED

    @property
    def support_label(self):
        return SUPPORT_LABELS.get(self.support, "")

    @property
    def status_label(self):
        return STATUS_LABELS.get(self.status, self.status)


class Cell:
    """One subject on one dimension: its visible claims, and what the table shows about them."""

    __slots__ = ("claims", "contested", "dom_id", "signature", "source_count", "subject")

    def __init__(self, subject, dimension, claims):
        self.subject = subject
        self.claims = claims
        self.dom_id = f"{dimension.slug}--{subject.slug}"
        # Contested (README): the published claims carry different support levels,
        # or any of their evidence contradicts. Drafts shown in a preview do not count.
        published = [claim for claim in claims if claim.status == Status.PUBLISHED]
        supports = {claim.support for claim in published if claim.support}
        self.contested = len(supports) > 1 or any(
            evidence.stance == Stance.CONTRADICTS for claim in published for evidence in claim.evidence
        )
        self.source_count = len({evidence.excerpt.source.id for claim in claims for evidence in claim.evidence})
        self.signature = tuple((claim.support, claim.cell) for claim in claims)

    @property
    def current_claims(self):
        return [claim for claim in self.claims if not claim.outdated]

    @property
    def outdated_claims(self):
        return [claim for claim in self.claims if claim.outdated]

    @property
    def quotes(self):
        """Each excerpt the cell's claims quote, once: [Quote(excerpt, [(claim, stance)])] in order of first use."""
        quotes = {}
        for claim in self.claims:
            for evidence in claim.evidence:
                quote = quotes.get(evidence.excerpt.id)
                if quote is None:
                    quote = quotes[evidence.excerpt.id] = Quote(evidence.excerpt, [])
                quote.claims.append((claim, evidence.stance))
        return list(quotes.values())

    @property
    def chips(self):
        """Who backs the current claims: [(source, stance)], one per source and stance, in order of first use."""
        chips = {}
        for claim in self.claims:
            if claim.outdated:
                continue
            for evidence in claim.evidence:
                chips.setdefault(
                    (evidence.excerpt.source.id, evidence.stance), (evidence.excerpt.source, evidence.stance)
                )
        return list(chips.values())

    @property
    def noted(self):
        """An editor's note corrects or qualifies the sources of a current claim."""
        return any(claim.editor_note_html for claim in self.claims if not claim.outdated)


class Quote(NamedTuple):
    excerpt: ExcerptRecord
    claims: list  # [(ClaimRecord, stance)]


class Row:
    """One dimension across the compared subjects."""

    __slots__ = ("cells", "contested", "differs", "dimension", "dimension_url", "group", "source_slugs", "supports")

    def __init__(self, dimension, dimension_url, cells):
        self.dimension = dimension
        self.dimension_url = dimension_url
        self.group = dimension.group
        self.cells = cells
        # An empty cell has the empty signature, so it differs from any filled one.
        self.differs = len({cell.signature for cell in cells}) > 1
        self.contested = any(cell.contested for cell in cells)
        self.supports = frozenset(claim.support for cell in cells for claim in cell.claims if claim.support)
        self.source_slugs = frozenset(
            evidence.excerpt.source.slug for cell in cells for claim in cell.claims for evidence in claim.evidence
        )

    @property
    def claims(self):
        return [claim for cell in self.cells for claim in cell.claims]


@dataclass
class GroupBlock:
    group: object
    rows: list


class ComparisonTable:
    """Rows (dimensions with at least one visible claim) by columns (subjects, in URL order)."""

    def __init__(self, subjects, dimensions, claims):
        self.subjects = list(subjects)
        self.dimensions = list(dimensions)
        by_cell = defaultdict(lambda: defaultdict(list))
        for claim in claims:
            by_cell[claim.dimension_id][claim.subject_id].append(claim)
        dimension_url = _url_pattern("kb:dimension")
        self.rows = []
        for dimension in self.dimensions:
            by_subject = by_cell.get(dimension.pk)
            if not by_subject:
                continue
            cells = [Cell(subject, dimension, by_subject.get(subject.pk, [])) for subject in self.subjects]
            self.rows.append(Row(dimension, dimension_url(dimension.slug), cells))
        self.empty_dimension_count = len(self.dimensions) - len(self.rows)

    @cached_property
    def groups(self):
        """Every dimension group, in display order (the group filter's choices)."""
        seen = {}
        for dimension in self.dimensions:
            seen.setdefault(dimension.group.pk, dimension.group)
        return list(seen.values())

    @cached_property
    def sources(self):
        """Every source cited in the table, by title (the source filter's choices)."""
        sources = {}
        for row in self.rows:
            for claim in row.claims:
                for evidence in claim.evidence:
                    sources.setdefault(evidence.excerpt.source.slug, evidence.excerpt.source)
        return sorted(sources.values(), key=lambda source: (source.title.casefold(), source.slug))

    @staticmethod
    def blocks(rows):
        """Rows under their group headings, keeping display order."""
        blocks = []
        for row in rows:
            if not blocks or blocks[-1].group.pk != row.group.pk:
                blocks.append(GroupBlock(row.group, []))
            blocks[-1].rows.append(row)
        return blocks


def _url_pattern(name, *fixed):
    """reverse() once, then fill in the last (slug) argument by substitution: reverse() per cell is too slow."""
    placeholder = "url-slug-placeholder"
    pattern = reverse(name, args=[*fixed, placeholder])
    return lambda slug: pattern.replace(placeholder, slug)


CLAIM_FIELDS = (
    "pk",
    "subject_id",
    "dimension_id",
    "key",
    "cell",
    "support",
    "status",
    "body_html",
    "editor_note_html",
    "applies_to",
    "outdated",
    "outdated_since",
    "superseded_by_id",
    "added",
)
EVIDENCE_FIELDS = (
    "claim_id",
    "stance",
    "excerpt_id",
    "excerpt__key",
    "excerpt__text",
    "excerpt__locator",
    "excerpt__speaker",
    "excerpt__verification",
    "excerpt__verified_sha256",
    "excerpt__source_id",
    "excerpt__source__slug",
    "excerpt__source__title",
    "excerpt__source__kind",
    "excerpt__source__author",
    "excerpt__source__publisher",
    "excerpt__source__url",
    "excerpt__source__published",
    "excerpt__source__updated_on",
    "excerpt__source__captured",
)


def build_table(subjects, *, preview=False):
    """The comparison of ``subjects`` (in this order) in three queries: dimensions, claims, evidence.

    Readers see published claims only; a staff preview (``preview=True``) sees drafts too.
    """
    subjects = list(subjects)
    dimensions = _dimensions()
    claim_qs = Claim.objects.visible(preview).filter(subject__in=subjects)
    claim_urls = {subject.pk: _url_pattern("kb:claim", subject.slug) for subject in subjects}
    claims = {}
    for row in claim_qs.order_by("order", "key").values_list(*CLAIM_FIELDS):
        claims[row[0]] = ClaimRecord(*row, url=claim_urls[row[1]](row[3]))

    source_url = _url_pattern("kb:source")
    sources, excerpts = {}, {}
    evidence_rows = (
        Evidence.objects.filter(claim__in=claim_qs.values("pk")).order_by("order", "pk").values_list(*EVIDENCE_FIELDS)
    )
    for (
        claim_id,
        stance,
        excerpt_id,
        key,
        text,
        locator,
        speaker,
        verification,
        sha256,
        source_id,
        *source_fields,
    ) in evidence_rows:
        source = sources.get(source_id)
        if source is None:
            source = sources[source_id] = SourceRecord(source_id, *source_fields, source_url(source_fields[0]))
        excerpt = excerpts.get(excerpt_id)
        if excerpt is None:
            excerpt = excerpts[excerpt_id] = ExcerptRecord(
                excerpt_id, key, text, locator, speaker, verification, sha256, source
            )
        claim = claims.get(claim_id)
        if claim is not None:
            claim.evidence.append(EvidenceRecord(stance, excerpt))
    for claim in claims.values():
        if claim.superseded_by_id:
            claim.superseded_by = claims.get(claim.superseded_by_id)
    return ComparisonTable(subjects, dimensions, claims.values())


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
    "claim_url",
    "source_titles",
    "excerpt_keys",
]
# Spreadsheets run a cell starting with these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value):
    value = "" if value is None else str(value)
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def table_as_csv_rows(rows, *, absolute):
    """One row per (dimension, subject, claim); a cell without claims still gets a row, with blank claim fields."""
    yield CSV_HEADER
    for row in rows:
        for cell in row.cells:
            contested = "yes" if cell.contested else "no"
            if not cell.claims:
                yield [_csv_safe(v) for v in (row.group.name, row.dimension.name, cell.subject.name)] + [
                    "",
                    "",
                    contested,
                    "",
                    "",
                    "",
                    "",
                ]
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
                    absolute(claim.url),
                    _csv_safe("; ".join(titles)),
                    "; ".join(evidence.excerpt.ref for evidence in claim.evidence),
                ]
