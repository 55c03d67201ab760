"""Search: one interface (kb.site.search.search), grouped results, the query in the URL, never a 500."""

import pytest
from django.urls import reverse

from kb.knowledge.models import Claim
from kb.site import search as kb_search


def kinds_found(results):
    return {group.kind: [str(item) for item in group.items] for group in results.groups if group.items}


def test_interface_returns_every_group_in_order(sample_kb):
    results = kb_search.search("alpha")
    assert [group.kind for group in results.groups] == ["subjects", "dimensions", "claims", "excerpts", "snippets"]
    found = kinds_found(results)
    assert found["subjects"] == ["Alpha"]
    assert "Alpha · Widgets: Widget engine built in" in found["claims"]
    assert "sample/alpha-widgets" in found["excerpts"]
    assert found["snippets"]
    assert results.count == sum(len(g.items) for g in results.groups)
    assert results


def test_every_word_must_match_somewhere(sample_kb):
    found = kinds_found(kb_search.search("beta plugins"))
    # "beta" in the subject name and "plugins" in the cell; "beta" and "plugins" in the quote;
    # the subject beta-widgets is of the kind "Plugin" (words match in any form).
    assert found == {
        "subjects": ["beta-widgets"],
        "claims": ["Beta · Widgets: Widgets via plugins"],
        "excerpts": ["sample/beta-plugins"],
    }
    assert not kb_search.search("alpha zzzzzz")


def test_case_insensitive_and_searches_dimensions(sample_kb):
    found = kinds_found(kb_search.search("START-UP"))
    assert found["dimensions"] == ["Start-up time"]


def test_only_published_claims_are_found(sample_kb):
    assert "claims" not in kinds_found(kb_search.search("Fast enough"))
    claim = Claim.objects.get(key="fast-start")
    claim.status = "published"
    claim.save()  # as the admin does: the signal updates the claim's search document
    assert "claims" in kinds_found(kb_search.search("Fast enough"))


def test_results_per_group_are_limited(sample_kb):
    results = kb_search.search("alpha", per_group=1)
    claims = next(group for group in results.groups if group.kind == "claims")
    assert len(claims.items) == 1
    assert claims.has_more
    assert not kb_search.search("alpha", per_group=2).groups[2].has_more


def test_every_result_has_a_highlighted_passage(sample_kb):
    results = kb_search.search("widgets")
    assert results
    for group in results.non_empty_groups:
        for item in group.items:
            assert "<mark>" in item.search_highlight, (group.kind, item, item.search_highlight)


def test_query_is_normalised():
    assert kb_search.normalise_query("  many   \t spaces\n") == "many spaces"
    assert kb_search.normalise_query("nul\x00byte") == "nul byte"
    assert len(kb_search.normalise_query("x" * 10_000)) == kb_search.MAX_QUERY_LENGTH
    assert kb_search.normalise_query(None) == ""


def test_empty_query_runs_no_queries(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        results = kb_search.search("   ")
    assert not results
    assert results.query == ""


def test_search_page_groups_results_with_headings(client, sample_kb):
    response = client.get(reverse("kb:search"), {"q": "widgets"})
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["page_title"] == "Search results for “widgets”"
    for kind in ["subjects", "dimensions", "claims", "excerpts"]:
        assert f'id="results-{kind}"' in html
    assert html.index('id="results-subjects"') < html.index('id="results-claims"') < html.index('id="results-excerpts"')
    assert 'href="/claims/alpha/widgets/"' in html
    assert 'href="/sources/sample/#excerpt-beta-plugins"' in html
    # Each result shows its matching passage, the matches marked.
    assert '<p class="search-snippet">' in html
    assert "<mark>widgets</mark>" in html.lower()
    # The query stays in the URL and in the form.
    assert 'value="widgets"' in html
    assert '<link rel="canonical" href="http://testserver/search/?q=widgets">' in html
    assert '<meta name="robots" content="noindex">' in html


def test_search_form_uses_get_with_q(client, sample_kb):
    html = client.get(reverse("kb:search")).content.decode()
    assert 'method="get" action="/search/"' in html
    assert '<label for="search-q">' in html
    assert 'name="q"' in html


def test_empty_query_page(client, sample_kb):
    response = client.get(reverse("kb:search"), {"q": ""})
    assert response.status_code == 200
    assert response.context["page_title"] == "Search"
    assert "Type one or more words" in response.content.decode()


def test_no_results(client, sample_kb):
    html = client.get(reverse("kb:search"), {"q": "qwertyuiop"}).content.decode()
    assert "Nothing matches “qwertyuiop”" in html


def test_huge_query_is_cut_and_explained(client, sample_kb):
    response = client.get(reverse("kb:search"), {"q": "alpha " * 2000})
    assert response.status_code == 200
    assert "only the first 200 were used" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "%",
        "_",
        "%_%",
        "\\",
        "'",
        '"',
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "\x00",
        "a\x00b",
        "\u202e\u0000\ufeff",
        "🙂 emoji",
        "Ünïcödé",
        "../../etc/passwd",
        "{{ request }}",
        "{% debug %}",
        "a" * 5000,
    ],
)
def test_special_characters_never_500(client, sample_kb, query):
    response = client.get(reverse("kb:search"), {"q": query})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html


def test_percent_is_a_literal_not_a_wildcard(sample_kb):
    assert not kb_search.search("%")
    assert not kb_search.search("_")


def test_repeated_q_parameter_uses_the_last(client, sample_kb):
    response = client.get("/search/?q=zzz&q=alpha")
    assert response.status_code == 200
    assert response.context["search_query"] == "alpha"


def test_a_long_query_is_shortened_in_the_page_title(client, sample_kb):
    query = "widgets " + "x" * 3000
    response = client.get(reverse("kb:search"), {"q": query})
    assert response.status_code == 200
    title = response.context["page_title"]
    assert title == "Search results for “" + query[:59] + "…”"
    html = response.content.decode()
    head_title = html[html.index("<title>") : html.index("</title>")]
    assert "x" * 60 not in head_title and "…" in head_title
    short = client.get(reverse("kb:search"), {"q": "widgets"})
    assert short.context["page_title"] == "Search results for “widgets”"
