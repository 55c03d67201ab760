"""Comparison pages run a fixed number of SQL queries, whatever their size.

The page reads the content version (one query), resolves its subjects and counts the dimensions (one
each, for the note on those without claims: once per process until a write touches subjects, their kinds
or dimensions), and its cells: ONE query for when each compared subject's cells last changed
(kb.comparison.models.SubjectColumn); a column this process has read at that version comes from its
memo (kb.comparison.cell_memo), the others from one query for the records of the read model
(kb.comparison.models.CellVersion) in force then and one for the cells not read yet (or drawn by an
edit in this process), drawn already. The open data reads the cells with their data in one query.
Filters, badges, "contested", "differs" and the date of the content cost nothing more.
"""

from datetime import date

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kb.comparison.filters import ComparisonFilter
from kb.comparison.markup import CellsByReference
from kb.comparison.table import build_table
from kb.knowledge import models as m
from kb.knowledge.signals import content_changed


@pytest.fixture(autouse=True)
def no_page_cache(settings):
    """These pins count what building a comparison costs; a plain pair is otherwise served from the page cache."""
    settings.KB_PAGE_CACHE_SECONDS = 0


# A reader's request (comparisons are never page-cached, kb.ops.page_cache): the content version, and when
# the compared subjects' columns changed (the open data: the cells with their data instead).
READER_QUERIES = 2
# Once per process and change of the subjects, their kinds or the dimensions (ContentVersion.frame_changed):
# the subjects (to resolve the URL) and the number of dimensions.
FRAME_QUERIES = 2
# An HTML page reads the columns this process has not read yet in two more queries: records in force, cells.
COLUMN_QUERIES = {"kb:compare": 2, "kb:compare-json": 0, "kb:compare-csv": 0}
# A staff preview is computed fresh (drafts are not in the read model): the session, the user, the content
# version (for the pinned link), the claims and their evidence.
PREVIEW_QUERIES = 5


def make_kb(subjects=8, groups=6, dimensions=60, sources=4, draft_every=7):
    """A synthetic knowledge base: every subject has a claim on every dimension, each with two excerpts.

    Returns the subject slugs, in creation order. Built with bulk_create, so fast;
    the *_html fields are set directly (they are what pages print).
    """
    kind = m.SubjectKind.objects.create(slug="thing", name="Thing")
    subject_objs = m.Subject.objects.bulk_create(
        [m.Subject(slug=f"subject-{i}", name=f"Subject {i}", kind=kind) for i in range(subjects)]
    )
    group_objs = m.DimensionGroup.objects.bulk_create(
        [m.DimensionGroup(slug=f"group-{i}", name=f"Group {i}", order=i) for i in range(groups)]
    )
    dimension_objs = m.Dimension.objects.bulk_create(
        [
            m.Dimension(slug=f"dimension-{i}", name=f"Dimension {i}", group=group_objs[i % groups], order=i)
            for i in range(dimensions)
        ]
    )
    source_objs = m.Source.objects.bulk_create(
        [
            m.Source(
                slug=f"source-{i}",
                title=f"Source {i}",
                author=f"Author {i}",
                publisher="Example Press",
                url=f"https://example.org/{i}",
                published=date(2020, 1, 1 + i),
            )
            for i in range(sources)
        ]
    )
    supports = [value for value, _ in m.Support.choices]
    excerpts, claims = [], []
    for s_index, subject in enumerate(subject_objs):
        for d_index, dimension in enumerate(dimension_objs):
            for e_index in range(2):
                excerpts.append(
                    m.Excerpt(
                        source=source_objs[(s_index + d_index + e_index) % sources],
                        key=f"{subject.slug}-{dimension.slug}-{e_index}",
                        text=f"{subject.name} on {dimension.name}, said {e_index}.",
                        speaker="A Commenter" if e_index else "",
                    )
                )
            claims.append(
                m.Claim(
                    subject=subject,
                    dimension=dimension,
                    key=dimension.slug,
                    cell=f"{subject.name} does {dimension.name} way {(s_index + d_index) % 3}",
                    support=supports[(s_index * 7 + d_index) % len(supports)],
                    body_html=f"<p>Why {subject.name} does {dimension.name} so.</p>",
                    editor_note_html="<p>Checked.</p>" if d_index % 5 == 0 else "",
                    status=m.Status.DRAFT if (s_index + d_index) % draft_every == 0 else m.Status.PUBLISHED,
                    order=d_index,
                )
            )
    excerpt_objs = m.Excerpt.objects.bulk_create(excerpts)
    claim_objs = m.Claim.objects.bulk_create(claims)
    evidence = []
    for c_index, claim in enumerate(claim_objs):
        for e_index in range(2):
            stance = m.Stance.CONTRADICTS if e_index and c_index % 11 == 0 else m.Stance.SUPPORTS
            evidence.append(
                m.Evidence(claim=claim, excerpt=excerpt_objs[c_index * 2 + e_index], stance=stance, order=e_index)
            )
    m.Evidence.objects.bulk_create(evidence)
    content_changed(everything=True)  # a bulk writer says so: the read model draws the new cells
    return [subject.slug for subject in subject_objs]


def compare_path(slugs, view="kb:compare"):
    return reverse(view, kwargs={"spec": slugs})


@pytest.mark.django_db
@pytest.mark.parametrize("view", ["kb:compare", "kb:compare-json", "kb:compare-csv"])
def test_two_and_eight_subjects_run_the_same_queries(client, django_assert_num_queries, view):
    slugs = make_kb(subjects=8, dimensions=60)
    with django_assert_num_queries(READER_QUERIES + FRAME_QUERIES + COLUMN_QUERIES[view]):
        small = client.get(compare_path(slugs[:2], view))
    with django_assert_num_queries(READER_QUERIES + COLUMN_QUERIES[view]):  # six subjects not read yet
        large = client.get(compare_path(slugs, view))
    with django_assert_num_queries(READER_QUERIES):  # every column read already
        again = client.get(compare_path(slugs[1:6], view))
    assert small.status_code == large.status_code == again.status_code == 200
    if view == "kb:compare":
        assert large.content.count(b'<td id="') == 8 * 60
        assert small.content.count(b'<td id="') == 2 * 60


@pytest.mark.django_db
def test_filters_cost_no_query(client, django_assert_num_queries):
    slugs = make_kb(subjects=8, dimensions=40)
    query = "?group=group-1&q=dimension&support=built-in&source=source-2&only_differences=1&only_contested=1"
    with django_assert_num_queries(READER_QUERIES + FRAME_QUERIES + COLUMN_QUERIES["kb:compare"]):
        response = client.get(compare_path(slugs) + query)
    assert response.status_code == 200
    with django_assert_num_queries(READER_QUERIES):
        response = client.get(compare_path(slugs) + "?support=bogus&group=999999&source=%3Cscript%3E")
    assert response.status_code == 200


@pytest.mark.django_db
def test_more_dimensions_do_not_add_queries(client, django_assert_num_queries):
    slugs = make_kb(subjects=3, dimensions=150)
    with django_assert_num_queries(READER_QUERIES + FRAME_QUERIES + COLUMN_QUERIES["kb:compare"]):
        response = client.get(compare_path(slugs))
    assert response.content.count(b'class="cmp-row') == 150


@pytest.mark.django_db
def test_the_cells_an_edit_drew_are_not_read_back(client, django_assert_num_queries):
    """After an editor's write, this process has the cells it drew (by content address): the page reads which
    records are in force for the changed column, not the cells again."""
    slugs = make_kb(subjects=3, dimensions=12)
    assert client.get(compare_path(slugs)).status_code == 200
    claim = m.Claim.objects.filter(subject__slug=slugs[0], status=m.Status.PUBLISHED).order_by("pk").first()
    claim.cell = "Edited"
    claim.save()
    with django_assert_num_queries(READER_QUERIES + 1):  # the frame stays: no subject or dimension changed
        response = client.get(compare_path(slugs))
    assert b"Edited" in response.content


@pytest.mark.django_db
def test_a_subject_or_dimension_change_renews_the_frame(client, django_assert_num_queries):
    slugs = make_kb(subjects=3, dimensions=12)
    assert client.get(compare_path(slugs[:2])).status_code == 200
    m.Subject.objects.filter(slug=slugs[2]).get().save(update_fields=["name"])  # not compared, still in the frame
    with django_assert_num_queries(READER_QUERIES + FRAME_QUERIES):
        assert client.get(compare_path(slugs[:2])).status_code == 200
    subject = m.Subject.objects.get(slug=slugs[2])
    subject.name = "Renamed"
    subject.save()
    assert "Renamed" in client.get(compare_path(slugs[:2])).content.decode()  # the subjects one can add
    group = m.DimensionGroup.objects.first()
    m.Dimension.objects.create(slug="new-dimension", name="New dimension", group=group, order=99)
    with django_assert_num_queries(READER_QUERIES + FRAME_QUERIES):
        response = client.get(compare_path(slugs[:2]))
    assert response.context["dimension_total"] == 13
    claim = m.Claim.objects.filter(subject__slug=slugs[0], status=m.Status.PUBLISHED).order_by("pk").first()
    claim.cell = "Edited"
    claim.save()
    with django_assert_num_queries(READER_QUERIES + 1):  # the edited column's records; the cell from the edit
        assert client.get(compare_path(slugs[:2])).status_code == 200


@pytest.mark.django_db
def test_staff_preview_adds_only_the_session_and_user(admin_client, django_assert_num_queries):
    slugs = make_kb(subjects=8, dimensions=30)
    admin_client.get("/")  # a first request may touch the session once more
    with django_assert_num_queries(PREVIEW_QUERIES + FRAME_QUERIES):
        small = admin_client.get(compare_path(slugs[:2]) + "?preview=1")
    with django_assert_num_queries(PREVIEW_QUERIES):
        large = admin_client.get(compare_path(slugs) + "?preview=1")
    assert small.context["preview"] and large.context["preview"]


@pytest.mark.django_db
def test_a_large_table_is_one_query():
    """10 subjects x 100 dimensions, each cell with two excerpts: every cell, drawn, in one query (two when
    the process has not read them yet).

    How fast it is belongs to bench/run, not to a test that a slow machine could fail.
    """
    slugs = make_kb(subjects=10, dimensions=100)
    by_slug = {subject.slug: subject for subject in m.Subject.objects.with_kind().filter(slug__in=slugs)}
    subjects = [by_slug[slug] for slug in slugs]
    request = RequestFactory().get(compare_path(slugs[:2]))
    request.user = None

    def render():
        table = build_table(subjects)
        filterset = ComparisonFilter(request.GET, table=table, request=request)
        rows = filterset.filter_rows(table.rows)
        context = {
            "names": "many",
            "subjects": subjects,
            "columns": [{"subject": column, "remove_url": "#"} for column in table.columns],
            "colspan": len(subjects) + 1,
            "blocks": table.blocks(rows),
            "filtered": False,
        }
        return render_to_string("kb/includes/compare_table.html", context)

    with CaptureQueriesContext(connection) as queries:
        html = render()
    assert len(queries) == 2  # the records in force, and the cells not read yet (the subjects are given)
    with CaptureQueriesContext(connection) as queries:
        assert render() == html
    assert len(queries) == 1  # the records in force
    assert html.count('<td id="') == 1000


@pytest.mark.django_db
def test_cells_printed_by_reference_are_the_same_bytes():
    """The comparison page prints its rows' cells by reference and puts their kept bytes in: the same page."""
    slugs = make_kb(subjects=4, dimensions=30, draft_every=3)  # drafts leave cells without a published claim
    subjects = list(m.Subject.objects.with_kind().filter(slug__in=slugs).order_by("slug"))
    table = build_table(subjects)
    context = {
        "names": "some",
        "subjects": subjects,
        "columns": [{"subject": column, "remove_url": "#"} for column in table.columns],
        "colspan": len(subjects) + 1,
        "blocks": table.blocks(table.rows),
        "filtered": False,
    }
    drawn = render_to_string("kb/includes/compare_table.html", context)
    by_reference = CellsByReference()
    marked = render_to_string("kb/includes/compare_table.html", {**context, "row_cells": by_reference.cells})
    assert len(marked) < len(drawn) / 10  # the cells are not in the rendered text
    assert by_reference.encode(marked) == drawn.encode()
    assert 'class="cmp-empty"' in drawn and drawn.count('<td id="') == 4 * 30
