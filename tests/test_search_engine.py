"""The full-text engine behind kb.site.search, on whichever database the suite runs on.

CI runs the suite on SQLite (FTS5) and on PostgreSQL (tsvector + GIN); each test here
holds on both, and the first ones check that the database's own engine is the one used.
"""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kb.knowledge.models import (
    Claim,
    Dimension,
    Excerpt,
    SearchDocument,
    SearchKind,
    Snippet,
    Source,
    Status,
    Subject,
    Task,
)
from kb.site import search as kb_search
from kb.site import search_index
from kb.site.fts5_tokens import tokens

VENDOR = connection.vendor


def found(query, kind, **kwargs):
    group = next(group for group in kb_search.search(query, **kwargs).groups if group.kind == kind)
    return group.items


def names(query, kind):
    return [str(item) for item in found(query, kind)]


def search_sql(query):
    with CaptureQueriesContext(connection) as captured:
        kb_search.search(query)
    # The first query after the synonym groups' is the engine's.
    return next(query["sql"] for query in captured.captured_queries if "kb_synonymgroup" not in query["sql"])


# The engine in use ----------------------------------------------------------------------


def test_search_uses_the_databases_full_text_engine(sample_kb):
    """CI runs the suite on both engines; each run checks the engine it has."""
    if VENDOR == "postgresql":
        check_postgresql_searches_the_gin_indexed_tsvector()
    else:
        assert VENDOR == "sqlite"
        check_sqlite_searches_the_fts5_table()


def check_postgresql_searches_the_gin_indexed_tsvector():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'kb_searchdocument_vector_gin'")
        (definition,) = cursor.fetchone()
    assert "USING gin (vector)" in definition
    # Enough documents that a rare word is best found through the index (rebuild() analyzes).
    source = Source.objects.get(slug="sample")
    Excerpt.objects.bulk_create(
        Excerpt(source=source, key=f"filler-{n}", text=f"Filler text number {n}.") for n in range(3000)
    )
    search_index.rebuild()
    sql = search_sql("ships")  # a rare word ("widgets" is in the title of every excerpt of the sample)
    assert "to_tsquery('english'" in sql and "@@" in sql and "ts_rank_cd" in sql and "ts_headline" in sql
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on kb_searchdocument_vector_gin" in plan


def check_sqlite_searches_the_fts5_table():
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'kb_search_fts'")
        (definition,) = cursor.fetchone()
        assert "fts5" in definition and "porter" in definition
        sql = search_sql("widgets")
        assert "kb_search_fts MATCH" in sql and "bm25(kb_search_fts" in sql and "snippet(kb_search_fts" in sql
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
    assert "SCAN kb_search_fts VIRTUAL TABLE" in plan


def test_queries_are_reduced_to_plain_words():
    terms = kb_search.terms_of("zq'x\"y OR NOT title:widgets* (NEAR) -a_b")
    assert terms == ["zq", "x", "y", "OR", "NOT", "title", "widgets", "NEAR", "a", "b"][: kb_search.MAX_TERMS]
    assert kb_search._fts5_query(["alpha", "OR", 'x"y']) == '"alpha" * AND "OR" AND "x""y" *'
    assert kb_search.prefix_tsquery(["alpha", "OR", "x'y", "a\\b"]) == "'alpha':* & 'OR' & 'x''y':* & 'a\\\\b':*"


# Prefixes ---------------------------------------------------------------------------------


def test_a_word_finds_longer_words_it_begins(sample_kb):
    """ "async" finds "asynchronous" (and the word itself), on both engines."""
    source = Source.objects.get(slug="sample")
    Excerpt.objects.create(source=source, key="long", text="Tornado is an asynchronous networking library.")
    Excerpt.objects.create(source=source, key="short", text="Async views arrived later.")
    Excerpt.objects.create(source=source, key="other", text="Nothing of the kind here.")
    assert sorted(names("async", "excerpts")) == ["sample/long", "sample/short"]
    assert names("asynchronous", "excerpts") == ["sample/long"]
    assert names("async networking", "excerpts") == ["sample/long"]
    highlight = found("async", "excerpts")[0].search_highlight
    assert "<mark>" in highlight


def fts5_query_now(terms):
    """The FTS5 query the SQLite engine runs for ``terms`` now (kb.site.search._fts5_query_sql, evaluated)."""
    expression, params = kb_search._fts5_query_sql(terms)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expression}", params)
        return cursor.fetchone()[0]


def test_a_prefix_that_adds_no_term_is_searched_as_the_word(sample_kb):
    """A word whose stem begins no other term of the index goes in without "*": the same rows, ranks and marks.

    The rows and marks are what both engines must give; the FTS5 query is SQLite's alone (PostgreSQL's search
    has no prefix query to shorten).
    """
    source = Source.objects.get(slug="sample")
    Excerpt.objects.create(source=source, key="templates", text="Templates render pages; a template inherits.")
    Excerpt.objects.create(source=source, key="async", text="Async views and asynchronous handlers.")
    assert tokens("templates") == tokens("template") == ("templat",)
    found_now = [(str(item), item.search_highlight) for item in found("template", "excerpts")]
    assert found_now and "<mark>Templates</mark>" in found_now[0][1]
    if VENDOR == "sqlite":
        # "templat" is the only term beginning with "templat": the word alone; "async" begins "asynchron" too.
        assert fts5_query_now([("template",), ("async",)]) == '"template" AND "async" *'
        assert fts5_query_now([("go",)]) == '"go"'  # short words are never prefixes
        assert fts5_query_now([("async", "nosuchwordanywhere")]) == '("async" * OR "nosuchwordanywhere")'
        with_prefix = kb_search._fts5_query_sql
        try:  # the same search with every prefix kept, as before this optimisation
            kb_search._fts5_query_sql = lambda terms: ("%s", [kb_search._fts5_query(terms)])
            assert [(str(item), item.search_highlight) for item in found("template", "excerpts")] == found_now
        finally:
            kb_search._fts5_query_sql = with_prefix
    # A new term beginning with the stem makes the prefix count again, at once (the vocabulary is the index's).
    Excerpt.objects.create(source=source, key="templatex", text="Templatex is a made-up word.")
    assert tokens("templatex") == ("templatex",)
    if VENDOR == "sqlite":
        assert fts5_query_now([("template",)]) == '"template" *'
    assert "sample/templatex" in names("template", "excerpts")


def test_short_words_are_not_prefixes(sample_kb):
    source = Source.objects.get(slug="sample")
    Excerpt.objects.create(source=source, key="go", text="Gophers everywhere.")
    assert names("go", "excerpts") == []


# Ranking, stemming, highlights -----------------------------------------------------------


def test_a_title_match_outranks_a_body_only_match(sample_kb):
    kind = Subject.objects.get(slug="alpha").kind
    # Created first, so a plain order by id would put it first.
    Subject.objects.create(slug="mentions", name="Mentions", kind=kind, summary="Compared with Zephyrine often.")
    Subject.objects.create(slug="zephyrine", name="Zephyrine", kind=kind, summary="A tool.")
    assert names("zephyrine", "subjects") == ["Zephyrine", "Mentions"]


def test_ranking_prefers_more_matches(sample_kb):
    source = Source.objects.get(slug="sample")
    Excerpt.objects.create(source=source, key="one", text="Quokka once, and then other words entirely.")
    Excerpt.objects.create(source=source, key="many", text="Quokka here, quokka there, quokka everywhere.")
    assert names("quokka", "excerpts") == ["sample/many", "sample/one"]


@pytest.mark.parametrize("query", ["routes", "route", "routing", "ROUTED"])
def test_words_match_in_any_form(sample_kb, query):
    source = Source.objects.get(slug="sample")
    Excerpt.objects.create(source=source, key="routing", text="Its routing is declarative.")
    Excerpt.objects.create(source=source, key="route", text="Each route is a function.")
    assert sorted(names(query, "excerpts")) == ["sample/route", "sample/routing"]


def test_matches_are_marked_and_content_is_escaped(sample_kb):
    kind = Subject.objects.get(slug="alpha").kind
    Subject.objects.create(
        slug="hostile",
        name="Hostile",
        kind=kind,
        summary='Platypus <script>alert("x")</script> & <b>bold</b> \x02not a mark\x03.',
    )
    (subject,) = found("platypus", "subjects")
    html = str(subject.search_highlight)
    assert "<mark>Platypus</mark>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert html.count("<mark>") == html.count("</mark>") == 1
    assert "\x02" not in html and "\x03" not in html
    document = SearchDocument.objects.get(kind="subject", object_id=subject.pk)
    assert "\x02" not in document.body and "\x03" not in document.body


def test_search_page_shows_escaped_highlights(client, sample_kb):
    kind = Subject.objects.get(slug="alpha").kind
    Subject.objects.create(slug="hostile", name="Hostile", kind=kind, summary="Platypus <script>alert(1)</script>")
    html = client.get(reverse("kb:search"), {"q": "platypus"}).content.decode()
    assert "<mark>Platypus</mark>" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)" in html
    assert html.count("<h1") == 1


def test_highlighted_passage_is_the_body_when_it_matches(sample_kb):
    (excerpt,) = found("box", "excerpts")
    assert str(excerpt.search_highlight).startswith("Alpha ships a widget engine in the <mark>box</mark>")
    # A match in the title only: the highlighted title stands in for the passage.
    (dimension,) = found("start", "dimensions")
    assert str(dimension.search_highlight) == "<mark>Start</mark>-up time"


# Only what readers may see ---------------------------------------------------------------


def test_drafts_and_claims_in_review_are_never_found(sample_kb):
    claim = Claim.objects.get(key="fast-start")
    assert claim.status == Status.DRAFT
    assert names("measured nobody", "claims") == []
    for status in (Status.REVIEW, Status.PUBLISHED, Status.DRAFT):
        claim.status = status
        claim.save()
        expected = [str(claim)] if status == Status.PUBLISHED else []
        assert names("measured nobody", "claims") == expected, status
    assert SearchDocument.objects.get(kind="claim", object_id=claim.pk).public is False


# The index follows the content -------------------------------------------------------------


def test_load_content_builds_one_document_per_object(sample_kb):
    counts = {kind: SearchDocument.objects.filter(kind=kind).count() for kind in SearchKind.values}
    assert counts == {
        "subject": Subject.objects.count(),
        "dimension": Dimension.objects.count(),
        "claim": Claim.objects.count(),
        "excerpt": Excerpt.objects.count(),
        "snippet": Snippet.objects.count(),
    }
    for document in SearchDocument.objects.all():
        low, high = search_index.document_id_range(document.kind)
        assert low <= document.id <= high


def test_rebuild_is_repeatable(sample_kb):
    before = list(
        SearchDocument.objects.order_by("id").values_list("id", "kind", "object_id", "title", "body", "public")
    )
    assert search_index.rebuild() == len(before)
    after = list(
        SearchDocument.objects.order_by("id").values_list("id", "kind", "object_id", "title", "body", "public")
    )
    assert after == before


def test_load_content_rebuilds_the_index(sample_kb, fixture_content_dir, tmp_path):
    import shutil

    content = tmp_path / "content"
    shutil.copytree(fixture_content_dir, content)
    call_command("load_content", str(content), verbosity=0)  # a copy the database was loaded from: then edited
    subject_file = content / "subjects" / "beta.yaml"
    subject_file.write_text(subject_file.read_text().replace("another sample tool", "an okapi tool"))
    call_command("load_content", str(content), verbosity=0)
    assert names("okapi", "subjects") == ["Beta"]
    assert names("beta sample", "subjects") == []


def test_saving_and_deleting_objects_updates_the_index(sample_kb):
    source = Source.objects.get(slug="sample")
    excerpt = Excerpt.objects.create(source=source, key="new", text="A wombat appears.")
    assert names("wombat", "excerpts") == ["sample/new"]
    excerpt.text = "A numbat appears."
    excerpt.save()
    assert names("wombat", "excerpts") == []
    assert names("numbat", "excerpts") == ["sample/new"]
    excerpt.delete()
    assert names("numbat", "excerpts") == []
    assert not SearchDocument.objects.filter(kind="excerpt", object_id=excerpt.pk).exists()


def test_renaming_a_subject_updates_its_claims_and_snippets(sample_kb):
    alpha = Subject.objects.get(slug="alpha")
    alpha.name = "Aardvark"
    alpha.save()
    assert names("aardvark", "subjects") == ["Aardvark"]
    assert sorted(names("aardvark", "claims")) == [
        "Aardvark · Start-up time: Slow to start",
        "Aardvark · Widgets: Widget engine built in",
    ]
    assert names("aardvark", "snippets") == ["Say hello · Aardvark (Python)"]
    titles = SearchDocument.objects.filter(kind="claim", object_id__in=alpha.claims.values("pk"))
    assert all(title.startswith("Aardvark · ") for title in titles.values_list("title", flat=True))


def test_renaming_a_dimension_task_or_source_updates_dependants(sample_kb):
    dimension = Dimension.objects.get(slug="widgets")
    dimension.name = "Gizmos"
    dimension.save()
    assert len(names("gizmos", "claims")) == 2
    task = Task.objects.get(slug="hello")
    task.title = "Say gday"
    task.save()
    assert len(names("gday", "snippets")) == 2
    source = Source.objects.get(slug="sample")
    source.title = "The Echidna Papers"
    source.save()
    assert len(names("echidna", "excerpts")) == Excerpt.objects.count()
    group = dimension.group
    group.name = "Capybara features"
    group.save()
    assert names("capybara", "dimensions") == ["Gizmos"]


def test_deleting_a_source_or_subject_removes_dependent_documents(sample_kb):
    Source.objects.get(slug="sample").delete()
    assert names("alpha", "excerpts") == []
    assert not SearchDocument.objects.filter(kind="excerpt").exists()
    beta = Subject.objects.get(slug="beta")
    Subject.objects.get(slug="beta-widgets").delete()
    beta.delete()
    assert names("beta", "subjects") == []
    assert names("beta", "claims") == []
    assert names("beta", "snippets") == []


def test_unchanged_saves_write_nothing(sample_kb):
    subject = Subject.objects.get(slug="alpha")
    # Update, history, generation bump; then read the subject's, claims' and snippets' documents.
    with CaptureQueriesContext(connection) as captured:
        subject.save()
    writes = [q["sql"] for q in captured if "kb_searchdocument" in q["sql"] and not q["sql"].startswith("SELECT")]
    assert writes == []


# Hostile queries ---------------------------------------------------------------------------

HOSTILE = [
    '"',
    '""',
    '"unbalanced',
    "'",
    "(",
    ")",
    "((widgets)",
    "widgets)",
    "AND",
    "OR",
    "NOT",
    "widgets AND",
    "OR widgets",
    "NOT widgets",
    "alpha NEAR beta",
    "NEAR(alpha beta, 2)",
    "*",
    "widget*",
    "^alpha",
    "-widgets",
    "+widgets",
    ":",
    "title:alpha",
    "body:widgets",
    "{title}: alpha",
    "kb_search_fts:alpha",
    "rank:1",
    "alpha & beta | !gamma",
    "alpha <-> beta",
    "alpha:*",
    "alpha:A",
    "'alpha':*",
    "\\",
    "%",
    "_",
    "; DROP TABLE kb_searchdocument; --",
    "\x00",
    "alpha\x00widgets",
    "\x02alpha\x03",
    "Ünïcödé straße",
    "日本語のテキスト",
    "🙂🙂🙂",
    "\u202e\ufeff\u200b",
    "a" * 10_000,
    "alpha " * 2000,
    " ".join(f"w{n}" for n in range(500)),
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(sample_kb, query):
    results = kb_search.search(query)
    assert [group.kind for group in results.groups] == ["subjects", "dimensions", "claims", "excerpts", "snippets"]
    for group in results.groups:
        for item in group.items:
            assert "<script" not in item.search_highlight


@pytest.mark.parametrize("query", ["title:alpha", '"alpha"', "(alpha)", "alpha*", "-alpha", "alpha\x00", "{alpha}"])
def test_syntax_characters_are_ignored_not_interpreted(sample_kb, query):
    # Every query above is the plain word "alpha" (plus, at most, words that are not query syntax).
    expected = names("alpha", "subjects")
    assert expected == ["Alpha"]
    if query == "title:alpha":
        assert names(query, "subjects") == []  # "title" is a word too, and no subject has it
    else:
        assert names(query, "subjects") == expected


def test_hostile_queries_on_the_page(client, sample_kb):
    for query in HOSTILE:
        response = client.get(reverse("kb:search"), {"q": query})
        assert response.status_code == 200, query


# A fixed number of queries -------------------------------------------------------------------


@pytest.fixture
def alpha_everywhere(sample_kb):
    """A dimension mentioning Alpha, so that "alpha" matches in every group."""
    Dimension.objects.create(
        slug="alpha-ness", name="Alpha-ness", group=Dimension.objects.get(slug="widgets").group, order=9
    )


def test_query_count_is_fixed(alpha_everywhere, django_assert_num_queries):
    # The synonym groups; one query ranks and highlights every group; one per group with results loads its objects.
    with django_assert_num_queries(1 + 1):
        assert not kb_search.search("qwertyuiop")
    with django_assert_num_queries(1 + 1 + 2):
        kb_search.search("alpha widgets")  # claims and excerpts
    with django_assert_num_queries(1 + 1 + 5):
        results = kb_search.search("alpha")
    assert len(results.non_empty_groups) == 5


def test_query_count_does_not_grow_with_results(alpha_everywhere, django_assert_num_queries):
    source = Source.objects.get(slug="sample")
    kind = Subject.objects.get(slug="alpha").kind
    for n in range(30):
        Excerpt.objects.create(source=source, key=f"alpha-{n}", text=f"Alpha, again ({n}).")
        Subject.objects.create(slug=f"alpha-{n}", name=f"Alpha {n}", kind=kind)
    with django_assert_num_queries(1 + 1 + 5):
        results = kb_search.search("alpha")
    assert results.groups[0].has_more and results.groups[3].has_more
    assert len(results.groups[0].items) == kb_search.PER_GROUP


def test_bulk_and_cascading_deletes_remove_documents_in_a_few_queries(sample_kb):
    source = Source.objects.get(slug="sample")
    for n in range(30):
        Excerpt.objects.create(source=source, key=f"more-{n}", text=f"More text {n}.")
    with CaptureQueriesContext(connection) as captured:
        source.delete()  # cascades to its 34 excerpts
    touching = [q["sql"] for q in captured if "kb_searchdocument" in q["sql"]]
    assert len(touching) <= 2, touching
    assert not SearchDocument.objects.filter(kind="excerpt").exists()
    Claim.objects.filter(subject__slug="alpha").delete()
    assert not SearchDocument.objects.filter(kind="claim", title__startswith="Alpha").exists()
    assert SearchDocument.objects.filter(kind="claim").count() == Claim.objects.count() == 1
