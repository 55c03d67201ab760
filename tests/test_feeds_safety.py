"""Feeds that are safe and never fail: sanitised html, no control characters, the content's own dates,
the quoted excerpts with their citations, and a feed per comparison."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from kb.knowledge import models as m
from kb.knowledge.rendering import render_markdown
from kb.site import feeds

from .test_xss import PAYLOADS, dangers

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
FEEDS = ["/feeds/claims/", "/feeds/subjects/alpha/", "/compare/alpha-vs-beta/feed/"]


def entries(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    assert response["Content-Type"].startswith("application/atom+xml")
    return ET.fromstring(response.content).findall(f"{ATOM}entry")


def add_claim(key, cell, body="", quote=None, subject="alpha", **dates):
    claim = m.Claim.objects.create(
        subject=m.Subject.objects.get(slug=subject),
        dimension=m.Dimension.objects.get(slug="widgets"),
        key=key,
        cell=cell,
        body=body,
        status=m.Status.PUBLISHED,
        **dates,
    )
    if quote is not None:
        excerpt = m.Excerpt.objects.create(source=m.Source.objects.get(slug="sample"), key=f"q-{key}", text=quote)
        m.Evidence.objects.create(claim=claim, excerpt=excerpt)
    return claim


def test_xss_payloads_through_claims_with_and_without_bodies_into_every_feed(client, sample_kb, monkeypatch):
    monkeypatch.setattr(feeds, "FEED_SIZE", 1000)
    for number, payload in enumerate(PAYLOADS):
        cell = payload.replace("\n", " ")[:200]
        add_claim(f"xss-body-{number}", cell, body=payload, quote=payload)
        add_claim(f"xss-cell-{number}", cell, quote=payload)  # no body: the plain cell is the summary
    for url in FEEDS:
        found = entries(client, url)
        assert len(found) >= 2 * len(PAYLOADS), url
        for entry in found:
            summary = entry.find(f"{ATOM}summary")
            assert summary.get("type") == "html"
            problems = dangers(summary.text)
            assert not problems, f"{url} {entry.findtext(f'{ATOM}id')}: {problems}"
            assert entry.find(f"{ATOM}title").get("type") in (None, "text")  # titles are text, never html


def test_a_plain_cell_is_escaped_text_in_the_summary(client, sample_kb):
    add_claim("plain", "<img src=x onerror=alert(1)>", quote="a <b>quoted</b> & true")
    summary = next(
        entry.findtext(f"{ATOM}summary")
        for entry in entries(client, "/feeds/claims/")
        if entry.findtext(f"{ATOM}id") == "http://testserver/claims/alpha/plain/"
    )
    assert summary.startswith("<p>&lt;img src=x onerror=alert(1)&gt;</p>")
    assert "a &lt;b&gt;quoted&lt;/b&gt; &amp; true" in summary


@pytest.mark.parametrize("where", ["body", "cell", "quote"])
def test_a_control_character_never_breaks_a_feed(client, sample_kb, where):
    texts = {"body": "", "cell": "plain", "quote": "plain quote"}
    texts[where] = "bad &#1; and \x01 and \x0b here" if where == "body" else "bad \x01 and \x0b here"
    add_claim("control", texts["cell"], body=texts["body"], quote=texts["quote"])
    for url in FEEDS:
        found = entries(client, url)  # a 200 that parses: no UnserializableContentError, no 500
        ids = [entry.findtext(f"{ATOM}id") for entry in found]
        if "/compare/" in url:  # entries are changed cells
            assert ids[0].startswith("cell:") and ids[0].endswith(":widgets--alpha"), ids
        else:
            assert "http://testserver/claims/alpha/control/" in ids


def test_control_characters_are_removed_from_rendered_markdown_at_save(db):
    html = render_markdown("a &#1; b &#x0b; c \x02 d\x7f")
    assert not any(char in html for char in "\x01\x0b\x02\x7f"), repr(html)
    assert render_markdown("line\nnext line") == "<p>line\nnext line</p>"  # line ends are kept


def test_entries_carry_the_claims_own_distinct_dates(client, sample_kb):
    m.Claim.objects.all().delete()
    stamps = []
    for number in range(3):
        added = datetime(2024, 1, 1 + number, 10, 0, tzinfo=UTC)
        changed = datetime(2025, 6, 1 + number, 12, 30, tzinfo=UTC)
        stamps.append((added, changed))
        add_claim(f"dated-{number}", f"Dated {number}", added=added, changed=changed)
    found = entries(client, "/feeds/claims/")
    assert [entry.findtext(f"{ATOM}id") for entry in found] == [
        f"http://testserver/claims/alpha/dated-{n}/" for n in (2, 1, 0)
    ]
    for entry, (added, changed) in zip(found, reversed(stamps), strict=True):
        assert datetime.fromisoformat(entry.findtext(f"{ATOM}published")) == added
        assert datetime.fromisoformat(entry.findtext(f"{ATOM}updated")) == changed
    updated = [entry.findtext(f"{ATOM}updated") for entry in found]
    assert len(set(updated)) == len(updated)


def test_entries_include_the_quotes_with_their_citations(client, sample_kb):
    summary = next(
        entry.findtext(f"{ATOM}summary")
        for entry in entries(client, "/feeds/claims/")
        if entry.findtext(f"{ATOM}id") == "http://testserver/claims/alpha/slow-start/"
    )
    excerpt = m.Excerpt.objects.get(source__slug="sample", key="alpha-slow")
    assert f"<blockquote>{excerpt.text}</blockquote>" in summary  # the citation macro, as on the pages
    assert 'href="http://testserver/sources/sample/#excerpt-alpha-slow"' in summary  # absolute, to the quote
    assert excerpt.source.title in summary
    assert "Supports" in summary and "Contradicts" in summary


def test_a_feed_per_comparison(client, sample_kb):
    feed = ET.fromstring(client.get("/compare/alpha-vs-beta/feed/").content)
    # One entry per changed cell: the content was loaded at one version, so each cell with a published claim once.
    ids = {entry.findtext(f"{ATOM}id").rsplit(":", 1)[1] for entry in feed.findall(f"{ATOM}entry")}
    assert ids == {"widgets--alpha", "startup--alpha", "widgets--beta"}  # no draft
    assert "Alpha vs Beta" in feed.findtext(f"{ATOM}title")
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == "http://testserver/compare/alpha-vs-beta/feed/"
    assert feed.find(f"{ATOM}link[@rel='alternate']").get("href") == "http://testserver/compare/alpha-vs-beta/"
    assert reverse("kb:feed-compare", args=[["alpha", "beta"]]) == "/compare/alpha-vs-beta/feed/"
    for url in ("/compare/alpha-vs-nobody/feed/", "/compare/alpha/feed/"):
        assert client.get(url).status_code == 404


def test_the_comparison_page_links_its_feed(client, sample_kb):
    html = client.get("/compare/alpha-vs-beta/?group=features").content.decode()
    # The filtered view's own feed: the same parameters.
    feed = "/compare/alpha-vs-beta/feed/?group=features"
    assert f'<link rel="alternate" type="application/atom+xml" href="{feed}"' in html
