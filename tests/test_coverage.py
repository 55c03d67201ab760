"""Coverage shown honestly: how many dimensions a subject answers, and comparisons with enough answered rows first."""

import pytest
from django.urls import reverse

from kb.comparison.coverage import ENOUGH_SHARED, Coverage, enough_shared
from kb.knowledge.models import Claim, ContentVersion, Dimension, DimensionGroup, Status, Subject, SubjectKind


@pytest.mark.parametrize(
    ("dimensions", "enough"),
    [(45, ENOUGH_SHARED), (60, ENOUGH_SHARED), (25, ENOUGH_SHARED), (24, 12), (9, 5), (4, 2), (0, 0)],
)
def test_enough_is_twenty_five_or_half_of_fewer_dimensions(dimensions, enough):
    assert enough_shared(dimensions) == enough


def claim(subject, dimension, status=Status.PUBLISHED, outdated=False):
    return Claim.objects.create(
        subject=subject,
        dimension=dimension,
        key=f"{subject.slug}-{dimension.slug}",
        cell="Yes",
        support="built-in",
        status=status,
        outdated=outdated,
        outdated_since="1.0" if outdated else "",
    )


@pytest.fixture
def coverage_kb(db):
    """Four dimensions (enough is 2): Main answers three, Zebra two of those, Aardvark one."""
    kind = SubjectKind.objects.create(slug="tool", name="Tool")
    other_kind = SubjectKind.objects.create(slug="other", name="Other")
    group = DimensionGroup.objects.create(slug="basics", name="Basics")
    dims = [Dimension.objects.create(slug=f"d{n}", name=f"Dimension {n}", group=group, order=n) for n in range(4)]
    main = Subject.objects.create(slug="main", name="Main", kind=kind)
    zebra = Subject.objects.create(slug="zebra", name="Zebra", kind=kind)  # well covered, last by name
    aardvark = Subject.objects.create(slug="aardvark", name="Aardvark", kind=kind)  # thin, first by name
    elsewhere = Subject.objects.create(slug="elsewhere", name="Elsewhere", kind=other_kind)
    for dimension in dims[:3]:
        claim(main, dimension)
    claim(main, dims[3], status=Status.DRAFT)  # a draft does not answer
    for dimension in dims[:2]:
        claim(zebra, dimension)
    claim(zebra, dims[2], outdated=True)  # nor does an outdated claim
    claim(aardvark, dims[0])
    claim(elsewhere, dims[0])
    return {"main": main, "zebra": zebra, "aardvark": aardvark}


def test_subject_page_says_how_many_dimensions_it_answers(client, coverage_kb):
    html = client.get(reverse("kb:subject", args=["main"])).content.decode()
    assert "Answers 3 of 4 dimensions" in html
    html = client.get(reverse("kb:subject", args=["zebra"])).content.decode()
    assert "Answers 2 of 4 dimensions" in html


def test_subject_page_suggests_well_covered_comparisons_first(client, coverage_kb):
    html = client.get(reverse("kb:subject", args=["main"])).content.decode()
    well = html.index(reverse("kb:compare", args=[["main", "zebra"]]))
    thin = html.index(reverse("kb:compare", args=[["main", "aardvark"]]))
    assert well < thin
    assert html.index('id="compare-well-covered"') < well < html.index('id="compare-thin"') < thin
    assert 'Main vs Aardvark</a> <span class="meta">(1 row both answer)</span>' in html
    assert "Main vs Elsewhere" not in html  # another kind


def test_subject_page_without_enough_rows_lists_only_thin_comparisons(client, coverage_kb):
    html = client.get(reverse("kb:subject", args=["aardvark"])).content.decode()
    assert 'id="compare-well-covered"' not in html
    assert 'Aardvark vs Main</a> <span class="meta">(1 row both answer)</span>' in html


def test_compare_form_suggests_well_covered_pairs_first(client, coverage_kb):
    html = client.get(reverse("kb:compare-form")).content.decode()
    well = html.index(f'href="{reverse("kb:compare", args=[["main", "zebra"]])}"')
    thin = html.index(f'href="{reverse("kb:compare", args=[["aardvark", "main"]])}"')
    assert well < thin
    assert 'Main vs Zebra</a> <span class="meta">(2 rows both answer)</span>' in html
    assert 'Aardvark vs Main</a> <span class="meta">(1 row both answer: fewer than 2)</span>' in html


def test_summary_strip_says_how_many_dimensions_each_answers(client, coverage_kb):
    url = reverse("kb:compare", args=[["main", "zebra", "aardvark"]])
    html = client.get(url).content.decode()
    strip = html[html.index('class="cmp-summary"') :]
    assert "<strong>Main</strong> answers 3 of 4 dimensions" in strip
    assert "<strong>Zebra</strong> answers 2 of 4 dimensions" in strip
    assert "<strong>Aardvark</strong> answers 1 of 4 dimensions" in strip
    filtered = client.get(url, {"q": "Dimension 0"}).content.decode()
    assert "<strong>Zebra</strong> answers 2 of 4 dimensions (1 of the 1 shown)" in filtered


def test_pinned_summary_counts_of_the_dimensions_compared(client, coverage_kb):
    # A pinned page does not know how many dimensions there are (that number changes): it says so.
    version = ContentVersion.objects.state().key
    response = client.get(f"/compare/main-vs-zebra/v/{version}/", follow=True)
    assert response.status_code == 200, response.redirect_chain
    html = response.content.decode()
    assert "<strong>Zebra</strong> answers 2 of 3 compared dimensions" in html


def test_coverage_of_some_subjects_is_the_same_for_them(coverage_kb):
    """A subject's page reads only its kind's answers (kb.comparison.coverage.Coverage.load(subjects=...))."""
    everything = Coverage.load()
    subjects = list(Subject.objects.order_by("pk")[:2])
    some = Coverage.load(subjects=[subject.pk for subject in subjects])
    assert some.dimension_count == everything.dimension_count and some.enough == everything.enough
    assert set(some.answered) <= {subject.pk for subject in subjects}
    for subject in subjects:
        assert some.answered.get(subject.pk) == everything.answered.get(subject.pk)
    assert any(some.answered.values())
