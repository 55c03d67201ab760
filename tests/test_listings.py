"""Pages that list everything show a page at a time and link the rest (kb.site.listings)."""

import re

import pytest

from kb.knowledge import models as m
from kb.knowledge.synthetic import Size, generate
from kb.site import listings

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(sample_kb):
    generate(Size(subjects=130, dimensions=3, seed=5))  # 130 subjects of one kind: two pages of /subjects/


def names(html):
    return re.findall(r'<h3><a href="/subjects/[^"]+/">([^<]+)</a></h3>', html)


def test_subjects_come_a_page_at_a_time(client, many):
    total = m.Subject.objects.count()
    first = client.get("/subjects/").content.decode()
    second = client.get("/subjects/?page=2").content.decode()
    assert len(names(first)) == listings.PAGE_SIZE
    assert len(names(first)) + len(names(second)) == total
    assert not set(names(first)) & set(names(second))
    assert 'rel="next" href="?page=2"' in first
    assert 'rel="prev" href="?page=1"' in second
    assert '<link rel="canonical" href="http://testserver/subjects/?page=2">' in second


def test_claim_counts_are_those_of_each_row(client, many):
    html = client.get("/subjects/?page=2").content.decode()
    assert "3 published claims" in html  # each synthetic subject has a claim on each of 3 dimensions


@pytest.mark.parametrize("page", ["0", "3", "abc", "-1", "1.5"])
def test_a_page_that_does_not_exist_is_a_404_not_a_500(client, many, page):
    response = client.get(f"/subjects/?page={page}")
    assert response.status_code == 404


def test_home_shows_the_first_of_each_kind_and_links_the_rest(client, many):
    html = client.get("/").content.decode()
    synthetic = m.SubjectKind.objects.get(slug="synthetic")
    before = m.Subject.objects.exclude(kind=synthetic).count()
    page = before // listings.PAGE_SIZE + 1
    link = f"/subjects/{'?page=' + str(page) if page > 1 else ''}#kind-synthetic"
    assert f'<a href="{link}">All 130 of this kind</a>' in html
    shown = re.findall(r'<li><a href="/subjects/(synthetic-\d+)/">', html)
    assert len(shown) == listings.PREVIEW_SIZE
    # The link leads to the page where that kind starts.
    target = client.get(link.split("#")[0]).content.decode()
    assert 'id="kind-synthetic"' in target


def test_the_real_content_fits_one_page_without_page_links(client, sample_kb):
    html = client.get("/subjects/").content.decode()
    assert "Pages of this list" not in html
    assert "#kind-" not in client.get("/").content.decode()
