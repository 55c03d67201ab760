"""Issue 21 item 5: search by stem and by the content's synonyms, on the database's own engine (both engines:
run with DATABASE_URL for PostgreSQL); outdated claims are marked in results; snippets keep labels apart."""

import shutil
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.urls import reverse

from kb.knowledge import models as m
from kb.site import search as kb_search
from kb.site.search_index import rebuild

WHEN = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.fixture
def async_kb(sample_kb):
    """Three published claims, each using one form of the word, and one outdated claim; the async group."""
    alpha = m.Subject.objects.get(slug="alpha")
    dimension = m.Dimension.objects.order_by("order").first()
    excerpt = m.Excerpt.objects.first()
    texts = {
        "kw": ("Async views", "Views may be declared with the async keyword."),
        "adj": ("Asynchronous handlers", "Handlers run asynchronously on an event loop."),
        "noun": ("Asynchrony by design", "Built for asynchrony from the start."),
    }
    for key, (cell, body) in texts.items():
        claim = m.Claim.objects.create(
            subject=alpha, dimension=dimension, key=f"stem-{key}", cell=cell, body=body, status="published"
        )
        m.Evidence.objects.create(claim=claim, excerpt=excerpt)
    successor = m.Claim.objects.get(key="stem-kw")
    old = m.Claim.objects.create(
        subject=alpha, dimension=dimension, key="stem-old", cell="Without asynchronous support", status="published",
        outdated=True, outdated_since="Alpha 2.0", superseded_by=successor,
    )  # fmt: skip
    m.Evidence.objects.create(claim=old, excerpt=excerpt)
    m.SynonymGroup.objects.create(term="async", words="asynchronous asynchronously asynchrony")
    rebuild()


def claim_keys(query):
    results = kb_search.search(query, per_group=50)
    return {claim.key for claim in results.groups[2].items if claim.key.startswith("stem-")}


@pytest.mark.parametrize("query", ["async", "asynchronous", "asynchrony", "ASYNCHRONOUSLY"])
def test_each_form_finds_the_others(async_kb, query):
    assert claim_keys(query) == {"stem-kw", "stem-adj", "stem-noun", "stem-old"}


def test_without_the_synonym_group_stems_that_differ_do_not_meet(async_kb):
    m.SynonymGroup.objects.all().delete()
    assert claim_keys("asynchrony") == {"stem-noun"}  # the porter/english stem "asynchroni" is its own
    assert "stem-kw" not in claim_keys("asynchronous")


def test_synonyms_still_require_every_word(async_kb):
    assert claim_keys("asynchronous handlers") == {"stem-adj"}
    assert claim_keys("asynchrony views") == {"stem-kw"}


def test_stemming_joins_forms_of_one_word(async_kb):
    assert claim_keys("handler") == {"stem-adj"}
    assert claim_keys("designs") == {"stem-noun"}


def test_expansion_is_plain_words_only():
    groups = [["async", "asynchronous"]]
    assert kb_search.expand(["Async", "views"], groups) == [("Async", "asynchronous"), ("views",)]
    assert kb_search.prefix_tsquery([("async", "asynchronous"), ("x",)]) == "('async':* | 'asynchronous':*) & 'x'"
    assert kb_search._fts5_query([("async", "asynchronous"), ("x",)]) == '("async" * OR "asynchronous" *) AND "x"'


def test_outdated_claims_are_marked_in_results(client, async_kb):
    html = client.get(reverse("kb:search"), {"q": "asynchronous"}).content.decode()
    row = html[html.index('href="/claims/alpha/stem-old/"') :]
    row = row[: row.index("</li>")]
    assert "Outdated since Alpha 2.0" in row
    current = html[html.index('href="/claims/alpha/stem-adj/"') :]
    assert "Outdated" not in current[: current.index("</li>")]


def test_snippets_keep_the_label_apart_from_the_text(client, sample_kb):
    subject = m.Subject.objects.get(slug="alpha")
    subject.summary = "An asynchronous widget toolkit."
    subject.save()
    result = kb_search.search("toolkit").groups[0].items[0]
    text = str(result.search_highlight)
    assert not text.startswith(subject.kind.name)
    assert "asynchronous widget <mark>toolkit</mark>" in text  # (PostgreSQL's headline drops "An")
    assert text.endswith(f" · {subject.kind.name}") or subject.kind.name not in text
    assert kb_search.search(subject.kind.name).groups[0].items  # the kind still finds its subjects


def test_synonyms_round_trip_through_content_files(db, tmp_path, fixture_content_dir):
    content = tmp_path / "content"
    shutil.copytree(fixture_content_dir, content)
    (content / "synonyms.yaml").write_text("- term: async\n  words: asynchronous asynchrony\n")
    call_command("load_content", str(content), verbosity=0)
    assert [group.all_words for group in m.SynonymGroup.objects.all()] == [["async", "asynchronous", "asynchrony"]]
    out = tmp_path / "out"
    call_command("export_content", str(out), verbosity=0)
    assert (out / "synonyms.yaml").read_text() == "- term: async\n  words: asynchronous asynchrony\n"
