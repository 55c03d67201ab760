"""One comparison cell, in the one shape every page and export reads: built from a cell's data.

A cell's data (plain JSON: kb.comparison.snapshot computes it from the database, the read model
keeps it per content version) holds its subject and dimension as shown, its claims with their
evidence, and each excerpt and source once. :class:`Cell` reads it; the table's filters, the
summary and the frame read only the cell's facts (:func:`facts_of`), the comparison page only
its drawn markup. Only current claims drive the badge, the Contested mark, the filters, the
summary and the differences; outdated claims are kept, set apart.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cached_property
from typing import NamedTuple

from kb.comparison.marks import STATUS_LABELS, SUPPORT_LABELS
from kb.knowledge.models import Stance, Status, Support

SOURCE_MARK_LENGTH = 22
# How much each support level provides, for the summary's "differ most": not-applicable and unknown say nothing.
SUMMARY_RANK = {Support.BUILT_IN: 3, Support.EXTENSION: 2, Support.PARTIAL: 1, Support.NOT_PROVIDED: 0}


def contested(supports, stances):
    """The one definition of a contested cell (README), from its current published claims: their support
    levels (``supports``) differ, or any stance of their evidence (``stances``) contradicts. Drafts in a
    preview and outdated claims do not count: the callers pass only current published claims.
    """
    return len({support for support in supports if support}) > 1 or Stance.CONTRADICTS in set(stances)


def is_contested(claims, evidence_of=lambda claim: claim.evidence):
    """:func:`contested` for claims as objects (a subject's page reads them from the database)."""
    current = [claim for claim in claims if claim.status == Status.PUBLISHED and not claim.outdated]
    return contested(
        [claim.support for claim in current],
        [evidence.stance for claim in current for evidence in evidence_of(claim)],
    )


def _datetime(value):
    return datetime.fromisoformat(value) if value else None


def _date(value):
    return date.fromisoformat(value) if value else None


class SubjectRecord:
    __slots__ = ("kind", "name", "pk", "slug")

    def __init__(self, pk, slug, name, kind=""):
        self.pk = pk
        self.slug = slug
        self.name = name
        self.kind = kind  # the kind's name

    @classmethod
    def from_data(cls, data):
        return cls(data["id"], data["slug"], data["name"], data["kind"])


class GroupRecord:
    __slots__ = ("name", "pk", "slug")

    def __init__(self, pk, slug, name):
        self.pk = pk
        self.slug = slug
        self.name = name


class DimensionRecord:
    __slots__ = ("group", "name", "pk", "slug", "sort_key")

    def __init__(self, pk, slug, name, group, sort_key):
        self.pk = pk
        self.slug = slug
        self.name = name
        self.group = group
        self.sort_key = tuple(sort_key)

    @classmethod
    def from_data(cls, data):
        group = data["group"]
        return cls(
            data["id"], data["slug"], data["name"], GroupRecord(group["id"], group["slug"], group["name"]), data["sort"]
        )


class SourceRecord:
    __slots__ = (
        "author", "captured", "kind", "page_url", "published", "publisher", "slug", "title", "updated_on", "url",
    )  # fmt: skip

    def __init__(self, slug, data):
        self.slug = slug
        self.title = data["title"]
        self.kind = data["kind"]
        self.author = data["author"]
        self.publisher = data["publisher"]
        self.url = data["url"]
        self.published = _date(data["published"])
        self.updated_on = _date(data["updated_on"])
        self.captured = _date(data["captured"])
        self.page_url = data["page_url"]

    @property
    def mark(self):
        """A short name for the source chip of a closed cell, decided here only.

        Documentation is named by its page (two pages of one project's docs must not read alike),
        another source by its publisher, else its title; shortened at a word, never mid-word.
        """
        name = self.title if self.kind == "documentation" or not self.publisher else self.publisher
        if len(name) <= SOURCE_MARK_LENGTH:
            return name
        words = name[: SOURCE_MARK_LENGTH - 1].rsplit(" ", 1)[0].rstrip(" ,:;-\u2013\u2014")
        return words + "…"

    @property
    def full_name(self):
        """The full title (with the publisher), shown when the pointer rests on a chip."""
        return f"{self.title} ({self.publisher})" if self.publisher else self.title


class ExcerptRecord:
    __slots__ = ("key", "locator", "page_url", "ref", "source", "speaker", "text", "verification", "verified_sha256")

    def __init__(self, ref, data, source):
        self.ref = ref
        self.key = data["key"]
        self.text = data["text"]
        self.locator = data["locator"]
        self.speaker = data["speaker"]
        self.verification = data["verification"]
        self.verified_sha256 = data["verified_sha256"]
        self.source = source
        self.page_url = f"{source.page_url}#excerpt-{self.key}"

    def get_absolute_url(self):
        """As Excerpt's: the citation macro takes either."""
        return self.page_url


class EvidenceRecord(NamedTuple):
    stance: str
    excerpt: ExcerptRecord


class ClaimRecord:
    """A claim as every comparison page and export shows it."""

    __slots__ = (
        "added", "applies_to", "body_html", "cell", "changed", "editor_note_html", "evidence", "key", "outdated",
        "outdated_since", "reviewed", "status", "successor_cell", "successor_ref", "successor_url", "support", "url",
    )  # fmt: skip

    def __init__(self, data, excerpts):
        self.key = data["key"]
        self.url = data["url"]
        self.cell = data["cell"]
        self.support = data["support"]
        self.status = data["status"]
        self.body_html = data["body_html"]
        self.editor_note_html = data["editor_note_html"]
        self.applies_to = data["applies_to"]
        self.outdated = data["outdated"]
        self.outdated_since = data["outdated_since"]
        successor = data["successor"] or {}
        self.successor_ref = successor.get("ref", "")
        self.successor_url = successor.get("url", "")
        self.successor_cell = successor.get("cell", "")
        self.added = _datetime(data["added"])
        self.changed = _datetime(data["changed"])
        self.reviewed = _date(data["reviewed"])
        self.evidence = [EvidenceRecord(stance, excerpts[ref]) for stance, ref in data["evidence"]]

    @property
    def is_draft(self):
        return self.status != Status.PUBLISHED

    @property
    def support_label(self):
        return SUPPORT_LABELS.get(self.support, "")

    @property
    def status_label(self):
        return STATUS_LABELS.get(self.status, self.status)


class Quote(NamedTuple):
    excerpt: ExcerptRecord
    claims: list  # [(ClaimRecord, stance)]


EMPTY_DATA = {"subject": None, "dimension": None, "claims": [], "excerpts": {}, "sources": {}}  # a cell without claims


def facts_of(data):
    """What the table, its filters, the summary and the frame need of a cell, from its data (plain JSON)."""
    claims = data["claims"]
    current = [claim for claim in claims if not claim["outdated"]]
    published = [claim for claim in current if claim["status"] == Status.PUBLISHED]
    sources = {}
    for claim in current:
        for _stance, ref in claim["evidence"]:
            slug = data["excerpts"][ref]["source"]
            sources.setdefault(slug, data["sources"][slug]["title"])
    ranks = [SUMMARY_RANK[claim["support"]] for claim in published if claim["support"] in SUMMARY_RANK]
    dates = [claim["changed"] for claim in published if claim["changed"]]
    return {
        "subject": data["subject"],
        "dimension": data["dimension"],
        "claims": len(claims),
        "current": len(current),
        "contested": contested(
            [claim["support"] for claim in published],
            [stance for claim in published for stance, _ref in claim["evidence"]],
        ),
        "supports": sorted({claim["support"] for claim in current if claim["support"]}),
        "sources": sources,
        "text_key": sorted(claim["cell"].casefold() for claim in current),
        "published_supports": [claim["support"] for claim in published] if published else None,
        "summary_rank": max(ranks) if ranks else None,
        "content_date": max(dates)[:10] if dates else None,
    }


class Cell:
    """One subject on one dimension: its facts always, its claims (from its data) when asked for.

    ``html``: its markup from the cell template (None for a cell without claims).
    """

    def __init__(self, facts, html=None, data=None, *, subject=None, dimension=None):
        self.facts = facts
        self.html = html
        self._data = data  # a dict, JSON text, or None for a cell without claims
        self.subject = subject or SubjectRecord.from_data(facts["subject"])
        self.dimension = dimension or DimensionRecord.from_data(facts["dimension"])
        self.key = (self.subject.pk, self.dimension.pk)
        self.dom_id = f"{self.dimension.slug}--{self.subject.slug}"
        self.contested = facts["contested"]
        self.has_claims = bool(facts["claims"])
        self.has_current = bool(facts["current"])
        self.supports = frozenset(facts["supports"])
        self.source_titles = facts["sources"]
        self.source_slugs = frozenset(facts["sources"])
        self.source_count = len(self.source_slugs)
        self.text_key = tuple(facts["text_key"])
        self.published_supports = facts["published_supports"]
        self.summary_rank = facts["summary_rank"]
        self.content_date = _date(facts["content_date"])

    @classmethod
    def from_data(cls, data, html=None):
        return cls(facts_of(data), html, data)

    @classmethod
    def empty(cls, subject, dimension):
        return cls(facts_of(EMPTY_DATA), subject=subject, dimension=dimension)

    @cached_property
    def html_bytes(self):
        """Its markup in UTF-8, encoded once (kb.comparison.markup.CellsByReference)."""
        return self.html.encode()

    @cached_property
    def data(self):
        if self._data is None:
            return None
        return json.loads(self._data) if isinstance(self._data, str) else self._data

    @cached_property
    def claims(self):
        data = self.data
        if data is None:
            if self.has_claims:
                raise LookupError(f"the data of cell {self.dom_id} was not read (stored_cells(with_data=True))")
            return []
        sources = {slug: SourceRecord(slug, value) for slug, value in data["sources"].items()}
        excerpts = {ref: ExcerptRecord(ref, value, sources[value["source"]]) for ref, value in data["excerpts"].items()}
        return [ClaimRecord(claim, excerpts) for claim in data["claims"]]

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
                quote = quotes.get(evidence.excerpt.ref)
                if quote is None:
                    quote = quotes[evidence.excerpt.ref] = Quote(evidence.excerpt, [])
                quote.claims.append((claim, evidence.stance))
        return list(quotes.values())

    @property
    def chips(self):
        """Who backs the current claims: [(source, stance)], one per source and stance, in order of first use."""
        chips = {}
        for claim in self.current_claims:
            for evidence in claim.evidence:
                source = evidence.excerpt.source
                chips.setdefault((source.slug, evidence.stance), (source, evidence.stance))
        return list(chips.values())

    @property
    def noted(self):
        """An editor's note corrects or qualifies the sources of a current claim."""
        return any(claim.editor_note_html for claim in self.current_claims)
