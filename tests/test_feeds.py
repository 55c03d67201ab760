"""Atom feeds, sitemap.xml and robots.txt."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from django.urls import reverse

from kb.knowledge.models import Claim

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def atom(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)


def test_claims_feed_lists_published_claims_newest_first(client, sample_kb):
    Claim.objects.filter(subject__slug="beta", key="widgets").update(changed=datetime(2030, 1, 1, tzinfo=UTC))
    feed = atom(client.get(reverse("kb:feed-claims")))
    entries = feed.findall(f"{ATOM}entry")
    titles = [entry.findtext(f"{ATOM}title") for entry in entries]
    assert titles[0] == "Beta · Widgets: Widgets via plugins"
    assert len(titles) == 3  # the draft is left out
    assert not any("Fast enough" in title for title in titles)
    first = entries[0]
    assert first.find(f"{ATOM}link").get("href") == "http://testserver/claims/beta/widgets/"
    assert first.findtext(f"{ATOM}updated")
    assert first.findtext(f"{ATOM}id") == "http://testserver/claims/beta/widgets/"  # a stable URL, not "claim:…"
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == "http://testserver/feeds/claims/"


def test_feed_escapes_rendered_html(client, sample_kb):
    feed = atom(client.get(reverse("kb:feed-claims")))
    summaries = [entry.findtext(f"{ATOM}summary") for entry in feed.findall(f"{ATOM}entry")]
    assert any(summary.startswith("<p>Alpha ships its own widget engine.</p>") for summary in summaries)


def test_subject_feed(client, sample_kb):
    feed = atom(client.get(reverse("kb:feed-subject", args=["alpha"])))
    titles = [entry.findtext(f"{ATOM}title") for entry in feed.findall(f"{ATOM}entry")]
    assert sorted(titles) == ["Alpha · Start-up time: Slow to start", "Alpha · Widgets: Widget engine built in"]
    assert "Alpha" in feed.findtext(f"{ATOM}title")


def test_subject_feed_unknown_slug_is_404(client, sample_kb):
    assert client.get(reverse("kb:feed-subject", args=["nope"])).status_code == 404


def test_feed_query_count_is_fixed(client, sample_kb, django_assert_num_queries):
    # One more each: the page cache reads the content generation first. Claims, then their
    # evidence with excerpts and sources; the subject feed reads its subject first.
    with django_assert_num_queries(1 + 2):
        client.get(reverse("kb:feed-claims"))
    with django_assert_num_queries(1 + 3):
        client.get(reverse("kb:feed-subject", args=["alpha"]))


def sitemap_locations(client, **headers):
    """Every URL the sitemap index's files list (the index links each file on the site origin)."""
    index = client.get(reverse("kb:sitemap"), **headers)
    assert index.status_code == 200
    assert ET.fromstring(index.content).tag == f"{SITEMAP}sitemapindex"
    locations = set()
    for file in ET.fromstring(index.content).iter(f"{SITEMAP}loc"):
        assert file.text.startswith("http://testserver/sitemap-")
        response = client.get(file.text.removeprefix("http://testserver"), **headers)
        assert response.status_code == 200
        locations |= {loc.text for loc in ET.fromstring(response.content).iter(f"{SITEMAP}loc")}
    return locations


def test_sitemap_lists_every_public_page(client, sample_kb):
    locations = sitemap_locations(client)
    expected = [
        "/",
        "/subjects/",
        "/subjects/alpha/",
        "/subjects/beta-widgets/",
        "/dimensions/widgets/",
        "/claims/alpha/widgets/",
        "/sources/sample/",
        "/snippets/hello/",
        "/compare/alpha-vs-beta/",
    ]
    for path in expected:
        assert f"http://testserver{path}" in locations
    assert "http://testserver/claims/alpha/fast-start/" not in locations  # a draft


def test_sitemap_lists_the_featured_comparisons(client, sample_kb):
    # tests/fixtures/content/featured.yaml features alpha-vs-beta.
    assert "http://testserver/compare/alpha-vs-beta/" in sitemap_locations(client)


def test_robots_txt(client, db):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "User-agent: *" in text
    assert "Disallow: /admin/" in text
    assert "Sitemap: http://testserver/sitemap.xml" in text
