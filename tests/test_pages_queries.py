"""Every page runs a fixed number of SQL queries, whatever the amount of content."""

import pytest
from django.urls import reverse

from kb.knowledge.models import (
    Claim,
    Dimension,
    Evidence,
    Excerpt,
    Snippet,
    Source,
    Status,
    Subject,
    SubjectRelation,
    Task,
)

# (url name, args, queries). Anonymous readers: no session or user queries, but one read of the
# content generation for the page cache (kb.ops.page_cache) before the page's own queries (not for
# search, which is never page-cached).
PINNED = [
    ("kb:home", [], 6),  # featured comparisons and their subjects: 2 (3 with a former slug)
    ("kb:subject-list", [], 4),  # the page's size, its rows, their claim counts
    # + the coverage: every dimension with the subjects answering it (kb.comparison.coverage), one query;
    # its cells are the read model's, one query (kb.comparison.page_cells)
    ("kb:subject", ["alpha"], 7 + 1),
    ("kb:subject", ["beta"], 7 + 1),
    ("kb:dimension-list", [], 4),
    # the dimension, its cells (one query), the kinds' order, its siblings
    ("kb:dimension", ["startup"], 5),
    ("kb:dimension", ["widgets"], 5),
    # + its public history: versions, evidence versions, their excerpts, the comparison linked (the featured
    # ones: both subjects are featured, so their peers are not asked for), the epoch
    ("kb:claim", ["alpha", "slow-start"], 4 + 5),
    ("kb:claim", ["beta", "widgets"], 4 + 5),
    ("kb:source-list", [], 2),
    ("kb:source", ["sample"], 5),
    ("kb:snippets", [], 4),  # the recorded run is part of each snippet (issue 21)
    ("kb:task", ["hello"], 3),  # the recorded run is part of each snippet (issue 21)
    ("kb:search", [], 0),
]


@pytest.mark.parametrize(("name", "args", "queries"), PINNED)
def test_query_counts_are_pinned(client, sample_kb, django_assert_num_queries, name, args, queries):
    url = reverse(name, args=args)
    with django_assert_num_queries(queries):
        response = client.get(url)
    assert response.status_code == 200


def test_search_runs_one_query_per_group(client, sample_kb, django_assert_num_queries):
    # The synonym groups, one ranked query for every group, then one per group with results.
    with django_assert_num_queries(1 + 1 + 2):
        response = client.get(reverse("kb:search"), {"q": "alpha widgets"})
    assert response.status_code == 200


def grow(factor=5):
    """Add subjects, dimensions, claims, evidence, excerpts and snippets to the sample."""
    alpha = Subject.objects.get(slug="alpha")
    source = Source.objects.get(slug="sample")
    task = Task.objects.get(slug="hello")
    group = Dimension.objects.get(slug="widgets").group
    for n in range(factor):
        subject = Subject.objects.create(slug=f"extra-{n}", name=f"Extra {n}", kind=alpha.kind, summary="More.")
        SubjectRelation.objects.create(subject=subject, kind="alternative-to", target=alpha)
        dimension = Dimension.objects.create(slug=f"extra-dim-{n}", name=f"Extra dim {n}", group=group)
        excerpt = Excerpt.objects.create(source=source, key=f"extra-{n}", text=f"Extra quote {n}.")
        for target in (alpha, subject):
            for dim in (dimension, Dimension.objects.get(slug="startup")):
                claim = Claim.objects.create(
                    subject=target,
                    dimension=dim,
                    key=f"extra-{n}-{dim.slug}",
                    cell=f"Extra claim {n}",
                    support="partial",
                    status=Status.PUBLISHED,
                    body="Some *Markdown*.",
                    editor_note="A note.",
                )
                Evidence.objects.create(claim=claim, excerpt=excerpt, stance="qualifies")
        Snippet.objects.create(task=task, subject=subject, language="python", code="print(1)", derived_from=excerpt)


@pytest.mark.parametrize(("name", "args", "queries"), PINNED)
def test_query_counts_do_not_grow_with_content(client, sample_kb, django_assert_num_queries, name, args, queries):
    grow()
    url = reverse(name, args=args)
    with django_assert_num_queries(queries):
        response = client.get(url)
    assert response.status_code == 200


def test_search_query_count_does_not_grow(client, sample_kb, django_assert_num_queries):
    grow()
    with django_assert_num_queries(1 + 1 + 5):  # + the synonym groups
        response = client.get(reverse("kb:search"), {"q": "extra"})
    assert response.status_code == 200
    assert "<mark>Extra</mark> quote" in response.content.decode()  # PostgreSQL headlines drop short words


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("editor", password="pw", is_staff=True))
    return client


@pytest.mark.parametrize(
    ("url", "queries"),
    # The subject page: + the coverage query (published claims only, as readers count them).
    [("/subjects/alpha/?preview=1", 7 + 1), ("/claims/alpha/fast-start/?preview=1", 3 + 5)],
)
def test_staff_preview_query_counts(staff_client, sample_kb, django_assert_num_queries, url, queries):
    # Two more for the session and the user of a logged-in editor.
    grow()
    with django_assert_num_queries(queries + 2):
        response = staff_client.get(url)
    assert response.status_code == 200
