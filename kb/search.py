"""Search across the knowledge base, behind one interface.

``search(query)`` returns a :class:`SearchResults`: the normalised query and one
:class:`ResultGroup` per kind of thing (subjects, dimensions, claims, excerpts,
snippets), each with at most ``per_group`` model instances, in that order.

This implementation matches every word of the query (case-insensitively, as a
substring) against a few text fields per model: one query per group, so a
search runs a fixed number of queries. A database full-text backend can replace
``_matches`` and the orderings without changing the interface the view uses.
Only published claims (and what readers can see) are ever returned.
"""

import re
from dataclasses import dataclass, field
from functools import reduce
from operator import and_, or_

from django.db.models import Q

from .models import Claim, Dimension, Excerpt, Snippet, Subject

MAX_QUERY_LENGTH = 200
MAX_TERMS = 8
PER_GROUP = 20

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class ResultGroup:
    kind: str  # a stable key: "subjects", "dimensions", "claims", "excerpts", "snippets"
    label: str
    items: list = field(default_factory=list)
    has_more: bool = False  # more matches than shown

    def __bool__(self):
        return bool(self.items)


@dataclass
class SearchResults:
    query: str
    groups: list = field(default_factory=list)

    @property
    def count(self):
        return sum(len(group.items) for group in self.groups)

    @property
    def non_empty_groups(self):
        return [group for group in self.groups if group.items]

    def __bool__(self):
        return self.count > 0


def normalise_query(raw):
    """The query as searched: control characters dropped, whitespace collapsed, length capped."""
    text = _CONTROL_CHARACTERS.sub(" ", raw or "")
    return " ".join(text.split())[:MAX_QUERY_LENGTH].strip()


def terms_of(query):
    return query.split()[:MAX_TERMS]


def _matches(terms, fields):
    """Every term appears in at least one of the fields."""
    return reduce(and_, (reduce(or_, (Q(**{f"{name}__icontains": term}) for name in fields)) for term in terms))


# What each group searches, how it loads and orders its rows.
GROUPS = [
    (
        "subjects",
        "Subjects",
        lambda: Subject.objects.with_kind().order_by("name"),
        ("name", "slug", "summary", "kind__name"),
    ),
    (
        "dimensions",
        "Dimensions",
        lambda: Dimension.objects.in_order(),
        ("name", "slug", "description", "group__name"),
    ),
    (
        "claims",
        "Claims",
        lambda: Claim.objects.published().select_related("subject", "dimension").order_by("subject__name", "order"),
        ("cell", "body", "editor_note", "subject__name", "dimension__name"),
    ),
    (
        "excerpts",
        "Quotes from sources",
        lambda: Excerpt.objects.select_related("source").order_by("source__title", "order", "key"),
        ("text", "locator", "speaker", "source__title"),
    ),
    (
        "snippets",
        "Code snippets",
        lambda: Snippet.objects.select_related("task", "subject").order_by("task__order", "task__title", "order"),
        ("code", "explanation", "task__title", "subject__name"),
    ),
]


def search(raw_query, per_group=PER_GROUP):
    """Search everything readers can see; see the module docstring for the contract."""
    query = normalise_query(raw_query)
    terms = terms_of(query)
    groups = []
    for kind, label, queryset, fields in GROUPS:
        group = ResultGroup(kind=kind, label=label)
        if terms:
            rows = list(queryset().filter(_matches(terms, fields))[: per_group + 1])
            group.items, group.has_more = rows[:per_group], len(rows) > per_group
        groups.append(group)
    return SearchResults(query=query, groups=groups)
