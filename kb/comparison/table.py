"""Comparison tables: which subjects a URL names, and the table of claims about them.

A table is built from a fixed handful of queries, whatever its size (the Django
Packages grid pattern): every subject once, every dimension once, every visible
claim about the compared subjects once and their evidence once. A
``{dimension_id: {subject_id: [claims]}}`` map is then built in Python, and each
row and cell is precomputed here (badges, URLs, "contested", "differs") so the
template only prints. Filters then narrow the rows in Python
(``kb.comparison.filters.ComparisonFilter``), costing no query.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from django.conf import settings

from kb.knowledge.models import (
    COMPARE_SEPARATOR,
    Claim,
    Dimension,
    Evidence,
    Stance,
    Status,
    Subject,
    SubjectAlias,
    Support,
)
from kb.knowledge.urls_memo import reverse

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
# How much each support level provides, for the summary's "differ most": not-applicable and unknown say nothing.
SUMMARY_RANK = {Support.BUILT_IN: 3, Support.EXTENSION: 2, Support.PARTIAL: 1, Support.NOT_PROVIDED: 0}


def is_contested(claims, evidence_of=lambda claim: claim.evidence):
    """The one definition of a contested cell (README): its current published claims carry different
    support levels, or any of their evidence contradicts. Drafts in a preview and outdated claims do not count.
    """
    current = [claim for claim in claims if claim.status == Status.PUBLISHED and not claim.outdated]
    supports = {claim.support for claim in current if claim.support}
    return len(supports) > 1 or any(
        evidence.stance == Stance.CONTRADICTS for claim in current for evidence in evidence_of(claim)
    )


def compare_url(slugs, view="kb:compare"):
    return reverse(view, kwargs={"spec": tuple(slugs)})


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
        "changed",
        "dimension_id",
        "editor_note_html",
        "evidence",
        "id",
        "key",
        "outdated",
        "outdated_since",
        "reviewed",
        "status",
        "subject_id",
        "successor_cell",
        "successor_ref",
        "successor_url",
        "superseded_by_id",
        "support",
        "updated",
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
        reviewed,
        added,
        changed,
        updated,
        successor_subject,
        successor_key,
        successor_cell,
        successor_status,
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
        # The successor as "subject-slug/key" (for the open data), and its page and words when readers can see it.
        self.successor_ref = f"{successor_subject}/{successor_key}" if successor_key else ""
        shown = successor_key and successor_status == Status.PUBLISHED
        self.successor_url = reverse("kb:claim", args=[successor_subject, successor_key]) if shown else ""
        self.successor_cell = successor_cell if shown else ""
        self.reviewed = reviewed
        self.added = added
        self.changed = changed
        self.updated = updated
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


class SubjectRecord:
    """What a cell needs of its subject (a cell is kept across requests, a Subject is not)."""

    __slots__ = ("name", "pk", "slug")

    def __init__(self, pk, slug, name):
        self.pk = pk
        self.slug = slug
        self.name = name

    @classmethod
    def of(cls, subject):
        return cls(subject.pk, subject.slug, subject.name)


class Cell:
    """One subject on one dimension: its visible claims, and what the table shows about them.

    Only current claims drive the badge, the Contested mark, the filters, the summary and the
    differences; outdated claims are kept (shown apart when the cell is opened, and in the exports).
    A cell depends on nothing but its subject, its dimension and their claims, so a cell with
    claims is built once and kept with its subject's column (kb.comparison.columns); it is not
    changed after it is drawn.
    """

    __slots__ = (
        "claims",
        "contested",
        "current_claims",
        "dimension",
        "dom_id",
        "html",
        "published_supports",
        "source_count",
        "source_slugs",
        "sources",
        "subject",
        "summary_rank",
        "supports",
        "text_key",
    )

    def __init__(self, subject, dimension, claims):
        self.subject = subject  # a SubjectRecord
        self.dimension = dimension
        self.html = None  # the cell's markup (kb.comparison.cells), for a cell with claims
        self.claims = claims
        self.current_claims = current = [claim for claim in claims if not claim.outdated]
        self.dom_id = f"{dimension.slug}--{subject.slug}"
        self.contested = is_contested(current)
        self.sources = {
            evidence.excerpt.source.slug: evidence.excerpt.source for claim in current for evidence in claim.evidence
        }
        self.source_count = len(self.sources)
        self.source_slugs = frozenset(self.sources)
        self.supports = frozenset(claim.support for claim in current if claim.support)
        # The cell's answer as text, for rows without support levels (see _differs).
        self.text_key = tuple(sorted(claim.cell.casefold() for claim in current))
        # For the summary strip (kb.comparison.summary): published current claims only.
        published = [claim for claim in current if claim.status == Status.PUBLISHED]
        self.published_supports = [claim.support for claim in published] if published else None
        ranks = [SUMMARY_RANK[claim.support] for claim in published if claim.support in SUMMARY_RANK]
        self.summary_rank = max(ranks) if ranks else None

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
        self.differs = _differs(cells)
        self.contested = any(cell.contested for cell in cells)
        self.supports = frozenset().union(*(cell.supports for cell in cells))
        self.source_slugs = frozenset().union(*(cell.source_slugs for cell in cells))

    @property
    def claims(self):
        """The row's current claims (what its filters and summary count)."""
        return [claim for cell in self.cells for claim in cell.current_claims]

    @property
    def claimed_count(self):
        """How many of the compared subjects have a current claim on this dimension."""
        return sum(1 for cell in self.cells if cell.current_claims)


def _differs(cells):
    """Whether the subjects differ on a row: their support levels, among the subjects that have a claim.

    A row where fewer than two subjects have a (current) claim compares nothing, so it does not differ.
    On a qualitative dimension (no claim carries a support level) the cells' texts are compared instead.
    """
    filled = [cell for cell in cells if cell.current_claims]
    if len(filled) < 2:
        return False
    if any(cell.supports for cell in filled):
        return len({cell.supports for cell in filled}) > 1
    return len({cell.text_key for cell in filled}) > 1


@dataclass
class GroupBlock:
    group: object
    rows: list


class ComparisonTable:
    """Rows (dimensions with at least one visible claim) by columns (subjects, in URL order).

    ``cells``: {(subject id, dimension id): Cell} of the cells that have claims (see ``cells_of``).
    """

    def __init__(self, subjects, dimensions, cells):
        self.subjects = list(subjects)
        self.dimensions = list(dimensions)
        records = [SubjectRecord.of(subject) for subject in self.subjects]
        filled_dimensions = {dimension_id for _subject_id, dimension_id in cells}
        dimension_url = _url_pattern("kb:dimension")
        self.rows = []
        for dimension in self.dimensions:
            if dimension.pk not in filled_dimensions:
                continue
            row_cells = [cells.get((record.pk, dimension.pk)) or Cell(record, dimension, []) for record in records]
            self.rows.append(Row(dimension, dimension_url(dimension.slug), row_cells))
        self.empty_dimension_count = len(self.dimensions) - len(self.rows)

    @property
    def content_date(self):
        """The latest content date of the table's published claims (kb.comparison.citation), or None."""
        dates = [
            claim.changed or claim.updated
            for row in self.rows
            for cell in row.cells
            for claim in cell.claims
            if claim.status == Status.PUBLISHED
        ]
        return max(dates).date() if dates else None

    @cached_property
    def groups(self):
        """Every dimension group, in display order (the group filter's choices)."""
        seen = {}
        for dimension in self.dimensions:
            seen.setdefault(dimension.group.pk, dimension.group)
        return list(seen.values())

    @cached_property
    def sources(self):
        """Every source cited by the table's current claims, by title (the source filter's choices)."""
        sources = {}
        for row in self.rows:
            for cell in row.cells:
                sources.update(cell.sources)
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
    "reviewed",
    "added",
    "changed",
    "updated",
    "superseded_by__subject__slug",
    "superseded_by__key",
    "superseded_by__cell",
    "superseded_by__status",
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


def fetch_claims(subjects, *, preview=False):
    """The visible claims about ``subjects`` as ClaimRecords with their evidence, in two queries.

    Readers see published claims only; a staff preview (``preview=True``) sees drafts too.
    """
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
    return list(claims.values())


def cells_of(subjects, dimensions, claims):
    """{(subject id, dimension id): Cell} of the cells with claims, each drawn (kb.comparison.cells)."""
    from kb.comparison.cells import draw_cells

    records = {subject.pk: SubjectRecord.of(subject) for subject in subjects}
    dimensions = {dimension.pk: dimension for dimension in dimensions}
    by_cell = defaultdict(list)
    for claim in claims:
        if claim.dimension_id in dimensions:
            by_cell[claim.subject_id, claim.dimension_id].append(claim)
    cells = {
        (subject_id, dimension_id): Cell(records[subject_id], dimensions[dimension_id], cell_claims)
        for (subject_id, dimension_id), cell_claims in by_cell.items()
    }
    draw_cells(cells.values())
    return cells


def build_table(subjects, *, preview=False):
    """The comparison of ``subjects`` (in this order) in three queries: dimensions, claims, evidence.

    Readers' pages take their tables from kb.comparison.columns instead, which keeps each
    subject's cells per content generation.
    """
    subjects = list(subjects)
    dimensions = _dimensions()
    claims = fetch_claims(subjects, preview=preview)
    return ComparisonTable(subjects, dimensions, cells_of(subjects, dimensions, claims))


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
    return f"{excerpt.ref}: {excerpt.verification}{sha}"
