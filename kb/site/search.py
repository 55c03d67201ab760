"""Search across the knowledge base, behind one interface, on the database's full-text engine.

``search(query)`` returns a :class:`SearchResults`: the normalised query and one
:class:`ResultGroup` per kind of thing (subjects, dimensions, claims, excerpts,
snippets), each with at most ``per_group`` model instances, best match first. Every
instance carries ``search_highlight``: safe HTML, the matching passage with each match
in ``<mark>``.

The engine is the database's own, chosen by ``connection.vendor``, over the documents
of :mod:`kb.site.search_index` (one per public object; titles weigh more than bodies):

- PostgreSQL: ``to_tsquery('english', …)`` (built by ``prefix_tsquery``) on the generated ``vector`` column (GIN
  index), ranked with ``ts_rank_cd``, highlighted with ``ts_headline``;
- SQLite: the FTS5 table ``kb_search_fts`` (porter stemmer, ``"word" *`` prefixes, dropped where the index's
  vocabulary ``kb_search_vocab`` says they add no term: see ``_fts5_query_sql``), ranked with ``bm25()``,
  highlighted with ``highlight()`` and ``snippet()``;
- anything else: every word as a case-insensitive substring of the documents.

Every word of the query must match (stemmed: "routes" finds "routing"). Where stems differ
("async", "asynchronous", "asynchrony"), the content's synonym groups (``content/synonyms.yaml``,
:class:`~kb.knowledge.models.SynonymGroup`) join them: a query word of a group matches any word of
it. The query is reduced to plain words before it reaches an engine, and goes in as a parameter:
user input never becomes query syntax. Each kind ranks at most ``CANDIDATES`` matching
documents (taken in index order) so that a word found in every document costs no more
than a rare one; headlines are computed only for the rows shown.

A search runs a fixed number of queries: one for the synonym groups, one that ranks and
highlights every group, then one per group with results to load its objects (``select_related``). Only published
claims and public objects are ever returned.
"""

import re
from dataclasses import dataclass, field

from django.db import connections, router
from django.db.models import Q
from django.utils.html import escape
from django.utils.safestring import mark_safe

from kb.knowledge.models import Claim, Dimension, Excerpt, SearchDocument, Snippet, Subject, SynonymGroup
from kb.site.fts5_tokens import tokens
from kb.site.search_index import document_id_range

MAX_QUERY_LENGTH = 200
MAX_TERMS = 8
MIN_PREFIX = 3  # words this long also match as prefixes ("async" finds "asynchronous")
PER_GROUP = 20
CANDIDATES = 1000  # per kind: documents ranked for one search, at most
SNIPPET_WORDS = 24

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_WORD = re.compile(r"[^\W_]+")
# Highlight sentinels: control characters never stored in a document (see kb.site.search_index.clean).
START, STOP = "\x02", "\x03"
# ts_headline drops what its parser takes for HTML tags; angle brackets go in disguised as these.
LT, GT = "\x01", "\x04"
_MARKED = re.compile(f"{START}([^{START}{STOP}]*){STOP}")
_SENTINELS = re.compile(f"[{START}{STOP}{LT}{GT}]")


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
    """The words searched for: letters and digits only, so no engine ever sees query syntax."""
    return _WORD.findall(query)[:MAX_TERMS]


def expand(terms, groups=None):
    """Each query word with its synonyms: ``[("async", "asynchronous", ...), ("views",)]``, the word first.

    ``groups``: lists of words that mean the same (default: the content's synonym groups, one query).
    """
    if groups is None:
        groups = [group.all_words for group in SynonymGroup.objects.only("term", "words")]
    synonyms = {}
    for words in groups:
        for word in words:
            synonyms.setdefault(word, []).extend(other for other in words if other != word)
    expanded = []
    for term in terms:
        alternatives = [term, *synonyms.get(term.lower(), [])]
        expanded.append(tuple(dict.fromkeys(alternatives)))
    return expanded


def _alternatives(terms):
    """Plain words (``terms_of``) or their expansions (``expand``), as tuples of alternatives."""
    return [(term,) if isinstance(term, str) else tuple(term) for term in terms]


def highlighted(text):
    """Safe HTML: ``text`` escaped, with only the engine's sentinels turned into ``<mark>``."""
    html = str(escape(text or "")).replace(LT, "&lt;").replace(GT, "&gt;")
    html = _MARKED.sub(r"<mark>\1</mark>", html)
    return mark_safe(_SENTINELS.sub("", html))


# What each group is: its key, label, document kind and how its objects load.
@dataclass(frozen=True)
class Group:
    key: str
    label: str
    kind: str
    load: object  # () -> queryset

    def objects(self, ids):
        """The objects of ``ids``, in that order; one query (none when there are no ids)."""
        found = self.load().in_bulk(ids) if ids else {}
        return [found[pk] for pk in ids if pk in found]


GROUPS = [
    Group("subjects", "Subjects", "subject", lambda: Subject.objects.with_kind()),
    Group("dimensions", "Dimensions", "dimension", lambda: Dimension.objects.select_related("group")),
    Group("claims", "Claims", "claim", lambda: Claim.objects.published().select_related("subject", "dimension")),
    Group("excerpts", "Quotes from sources", "excerpt", lambda: Excerpt.objects.select_related("source")),
    Group("snippets", "Code snippets", "snippet", lambda: Snippet.objects.select_related("task", "subject")),
]


@dataclass
class Hit:
    object_id: int
    title: str  # with sentinels around matches
    snippet: str  # of the body, with sentinels around matches

    @property
    def highlight(self):
        passage = self.snippet if START in self.snippet or START not in self.title else self.title
        return highlighted(passage)


# Engines: each returns {kind: [Hit, ...]} with at most ``limit`` hits per kind, best first.


def prefix_tsquery(terms):
    """A ``to_tsquery`` text from plain words: each quoted, a prefix when long enough, all required.

    ``terms``: words, or tuples of alternatives (synonyms), any one of which may match.
    ``terms_of`` keeps letters and digits only, so no tsquery syntax can get in; quoting and
    doubling quotes and backslashes keeps it so even if that ever changed.
    """
    parts = []
    for alternatives in _alternatives(terms):
        words = []
        for term in alternatives:
            quoted = "'{}'".format(term.replace("\\", "\\\\").replace("'", "''"))
            words.append(quoted + (":*" if len(term) >= MIN_PREFIX else ""))
        parts.append(words[0] if len(words) == 1 else "(" + " | ".join(words) + ")")
    return " & ".join(parts)


def _postgresql(connection, terms, limit):
    """One statement: per kind, the first CANDIDATES matches from the GIN index, ranked; headlines for the top."""
    tsquery = "to_tsquery('english', %s)"
    query = prefix_tsquery(terms)
    branches, params = [], []
    for position, group in enumerate(GROUPS):
        low, high = document_id_range(group.kind)
        branches.append(
            f"""(SELECT {position} AS position, c.id, c.object_id, c.title, c.body,
                        ts_rank_cd(c.vector, {tsquery}) AS rank
                 FROM (SELECT d.id, d.object_id, d.title, d.body, d.vector FROM kb_searchdocument d
                       WHERE d.id BETWEEN %s AND %s AND d.public AND d.vector @@ {tsquery}
                       LIMIT %s) c
                 ORDER BY rank DESC, c.id LIMIT %s)"""
        )
        params += [query, low, high, query, CANDIDATES, limit]
    sql = f"""
        SELECT top.position, top.object_id,
               ts_headline('english', translate(top.title, '<>', chr(1) || chr(4)), {tsquery}, %s),
               ts_headline('english', translate(top.body, '<>', chr(1) || chr(4)), {tsquery}, %s)
        FROM ({" UNION ALL ".join(branches)}) top
        ORDER BY top.position, top.rank DESC, top.id"""
    title_options = f"StartSel={START}, StopSel={STOP}, HighlightAll=true"
    body_options = (
        f"StartSel={START}, StopSel={STOP}, MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, "
        'ShortWord=2, MaxFragments=2, FragmentDelimiter=" … "'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [query, title_options, query, body_options, *params])
        rows = cursor.fetchall()
    return _hits_by_kind(rows)


def _fts5_query(terms):
    """An FTS5 query from plain words: each a quoted string (a prefix when long enough), all required.

    Never raw input: ``"async" *`` matches "asynchronous" too; synonyms go in as ``(... OR ...)``.
    """

    def word(term):
        return '"{}"{}'.format(term.replace('"', '""'), " *" if len(term) >= MIN_PREFIX else "")

    parts = []
    for alternatives in _alternatives(terms):
        words = [word(term) for term in alternatives]
        parts.append(words[0] if len(words) == 1 else "(" + " OR ".join(words) + ")")
    return " AND ".join(parts)  # explicit: FTS5 takes no implicit AND after a parenthesised group


def _fts5_query_sql(terms):
    """SQL (with its parameters) whose value is :func:`_fts5_query`'s, minus the prefixes that add nothing.

    FTS5 reads a prefix word (``"word" *``) by copying the doclist of every term it begins, once per
    cursor: at 100,000 claims a common word costs a millisecond a cursor. Where the index's vocabulary
    (``kb_search_vocab``) holds no other term beginning with the word's stem (kb.site.fts5_tokens), the
    prefix matches exactly what the word does, so the word goes in as itself: same rows, same ranks,
    same highlights.
    """

    def word(term):
        quoted = '"{}"'.format(term.replace('"', '""'))
        if len(term) < MIN_PREFIX:
            return "%s", [quoted]
        stems = tokens(term)
        if len(stems) != 1:
            return "%s", [quoted + " *"]
        stem = stems[0]
        return (
            "CASE WHEN EXISTS (SELECT 1 FROM kb_search_vocab WHERE term > %s AND term < %s) THEN %s ELSE %s END",
            [stem, stem + "\U0010ffff", quoted + " *", quoted],
        )

    pieces, params = [], []

    def add(sql, values=()):
        pieces.append(sql)
        params.extend(values)

    for number, alternatives in enumerate(_alternatives(terms)):
        if number:
            add("%s", [" AND "])  # explicit: FTS5 takes no implicit AND after a parenthesised group
        if len(alternatives) > 1:
            add("%s", ["("])
        for index, term in enumerate(alternatives):
            if index:
                add("%s", [" OR "])
            add(*word(term))
        if len(alternatives) > 1:
            add("%s", [")"])
    return " || ".join(pieces), params


def _sqlite(connection, terms, limit):
    """One statement: per kind (a rowid range of the FTS5 table), rank CANDIDATES with bm25, then highlight the top.

    The FTS5 query is worked out once, in the statement (:func:`_fts5_query_sql`), and each cursor reads it.
    """
    match_sql, params = _fts5_query_sql(terms)
    match = "(SELECT text FROM query)"
    ranked, highlights = [], []
    for position, group in enumerate(GROUPS):
        low, high = document_id_range(group.kind)
        ranked.append(
            f"""SELECT * FROM (
                  SELECT {position} AS position, c.id, c.object_id, c.score FROM (
                    SELECT d.id, d.object_id, bm25(kb_search_fts, 10.0, 1.0) AS score
                    FROM kb_search_fts CROSS JOIN kb_searchdocument d ON d.id = kb_search_fts.rowid
                    WHERE kb_search_fts MATCH {match} AND kb_search_fts.rowid BETWEEN {low} AND {high} AND d.public
                    LIMIT {CANDIDATES}) c
                  ORDER BY c.score, c.id LIMIT {int(limit)})"""
        )
    for position in range(len(GROUPS)):
        # The rowid range of this kind's top hits keeps FTS5 on a short stretch of its index
        # (an empty one when the kind has none: FTS5 reads NULL bounds as no bounds at all).
        highlights.append(
            f"""SELECT top.position, top.object_id, top.score,
                       highlight(kb_search_fts, 0, char(2), char(3)) AS title,
                       snippet(kb_search_fts, 1, char(2), char(3), '…', {SNIPPET_WORDS}) AS snippet
                FROM kb_search_fts CROSS JOIN top ON top.id = +kb_search_fts.rowid
                WHERE kb_search_fts MATCH {match} AND top.position = {position}
                  AND kb_search_fts.rowid BETWEEN (SELECT coalesce(min(id), 1) FROM top WHERE position = {position})
                                              AND (SELECT coalesce(max(id), 0) FROM top WHERE position = {position})"""
        )
    sql = f"""
        WITH query AS MATERIALIZED (SELECT {match_sql} AS text),
        top AS MATERIALIZED ({" UNION ALL ".join(ranked)})
        SELECT position, object_id, title, snippet FROM ({" UNION ALL ".join(highlights)})
        ORDER BY position, score, object_id"""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _hits_by_kind(rows)


def _hits_by_kind(rows):
    hits = {group.kind: [] for group in GROUPS}
    for position, object_id, title, snippet in rows:
        hits[GROUPS[position].kind].append(Hit(object_id, title or "", snippet or ""))
    return hits


def _mark_terms(text, terms):
    words = [term for alternatives in _alternatives(terms) for term in alternatives]
    pattern = re.compile("|".join(re.escape(term) for term in words), re.IGNORECASE)
    return pattern.sub(lambda match: f"{START}{match[0]}{STOP}", text)


def _substring(connection, terms, limit):
    """Any other database: every word a case-insensitive substring of the title or the body."""
    condition = Q()
    for alternatives in _alternatives(terms):
        either = Q()
        for term in alternatives:
            either |= Q(title__icontains=term) | Q(body__icontains=term)
        condition &= either
    hits = {}
    for group in GROUPS:
        documents = (
            SearchDocument.objects.using(connection.alias)
            .filter(condition, kind=group.kind, public=True)
            .order_by("title", "object_id")
            .values_list("object_id", "title", "body")[:limit]
        )
        hits[group.kind] = [
            Hit(object_id, _mark_terms(title, terms), _mark_terms(body[:300], terms))
            for object_id, title, body in documents
        ]
    return hits


ENGINES = {"postgresql": _postgresql, "sqlite": _sqlite}


def search(raw_query, per_group=PER_GROUP):
    """Search everything readers can see; see the module docstring for the contract."""
    query = normalise_query(raw_query)
    terms = terms_of(query)
    groups = [ResultGroup(kind=group.key, label=group.label) for group in GROUPS]
    if not terms:
        return SearchResults(query=query, groups=groups)
    connection = connections[router.db_for_read(SearchDocument)]
    engine = ENGINES.get(connection.vendor, _substring)
    hits = engine(connection, expand(terms), per_group + 1)
    for group, result in zip(GROUPS, groups, strict=True):
        found = hits[group.kind]
        shown = found[:per_group]
        objects = group.objects([hit.object_id for hit in shown])
        by_id = {hit.object_id: hit for hit in shown}
        for obj in objects:
            obj.search_highlight = by_id[obj.pk].highlight
        result.items, result.has_more = objects, len(found) > per_group
    return SearchResults(query=query, groups=groups)
