"""/sitemap.xml is a sitemap index; its files hold at most 50,000 URLs each (Django's sitemap pagination)."""

import xml.etree.ElementTree as ET

import pytest

from kb.knowledge import models as m
from kb.knowledge.synthetic import Size, generate
from kb.site.sitemaps import ClaimSitemap

pytestmark = pytest.mark.django_db

NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
PROTOCOL_LIMIT = 50_000


def test_a_large_knowledge_base_gets_an_index_of_files_within_the_limit(client):
    # Enough claims for the claims section to need two files (bulk-created: a few seconds).
    generate(Size(subjects=ClaimSitemap.limit // 100 + 1, dimensions=100, seed=7))
    claims = m.Claim.objects.published().count()
    assert claims > ClaimSitemap.limit
    index = client.get("/sitemap.xml")
    assert index.status_code == 200
    root = ET.fromstring(index.content)  # parses as XML
    assert root.tag == f"{NS}sitemapindex"
    files = [loc.text.removeprefix("http://testserver") for loc in root.iter(f"{NS}loc")]
    assert "/sitemap-claims.xml" in files and "/sitemap-claims.xml?p=2" in files
    seen = []
    for file in files:
        response = client.get(file)
        assert response.status_code == 200, file
        urlset = ET.fromstring(response.content)
        assert urlset.tag == f"{NS}urlset"
        urls = [loc.text for loc in urlset.iter(f"{NS}loc")]
        assert 0 < len(urls) <= min(ClaimSitemap.limit, PROTOCOL_LIMIT), file
        seen += urls
    assert len(seen) == len(set(seen))  # no URL in two files
    assert sum("/claims/" in url for url in seen) == claims
    assert client.get("/sitemap-claims.xml?p=3").status_code == 404  # past the last page: a clear 404
    assert client.get("/sitemap-nosuch.xml").status_code == 404


def test_the_index_takes_the_latest_date_of_each_section_in_one_query(client, sample_kb, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):  # a count and a date per section, whatever their size
        assert client.get("/sitemap.xml").status_code == 200
