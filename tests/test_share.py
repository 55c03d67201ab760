"""Sharing a comparison: its link-preview picture, its citation downloads; and /favicon.ico."""

import io
import json
import re

import pytest
from django.urls import reverse
from PIL import Image

from kb.comparison import citation as kb_citation
from kb.comparison.preview_image import subject_counts
from kb.knowledge import models as m

pytestmark = pytest.mark.django_db

PREVIEW = "/compare/alpha-vs-beta/preview.png"


def png_of(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


# The link-preview picture -------------------------------------------------------------


def test_the_preview_is_a_1200_by_630_png(client, sample_kb):
    image = png_of(client.get(PREVIEW))
    assert image.format == "PNG"
    assert image.size == (1200, 630)


def test_the_preview_changes_when_the_content_changes(client, sample_kb):
    before = client.get(PREVIEW).content
    assert client.get(PREVIEW).content == before  # drawn once, then from the cache
    claim = m.Claim.objects.published().filter(subject__slug="alpha").exclude(support="").first()
    claim.support = m.Support.NOT_PROVIDED if claim.support != m.Support.NOT_PROVIDED else m.Support.BUILT_IN
    claim.save()
    after = client.get(PREVIEW).content
    assert after != before
    assert png_of(client.get(PREVIEW)).size == (1200, 630)


def test_the_preview_counts_current_published_claims_only(sample_kb):
    alpha = m.Subject.objects.get(slug="alpha")
    before = subject_counts([alpha])[0]
    claim = m.Claim.objects.published().filter(subject=alpha).exclude(support="").first()
    claim.outdated = True
    claim.save()
    after = subject_counts([alpha])[0]
    assert after.counts.get(claim.support, 0) == before.counts[claim.support] - 1
    drafts = m.Claim.objects.filter(subject=alpha).exclude(status=m.Status.PUBLISHED)
    assert drafts.exists()  # the sample has a draft, never counted
    assert after.total == m.Claim.objects.published().current().filter(subject=alpha).exclude(support="").count()


def test_the_preview_of_a_non_canonical_or_unknown_comparison(client, sample_kb):
    response = client.get("/compare/beta-vs-alpha-vs-beta/preview.png")
    assert response.status_code == 301
    assert response["Location"] == "/compare/beta-vs-alpha/preview.png"
    assert client.get("/compare/alpha-vs-nosuch/preview.png").status_code == 404
    assert client.get("/compare/alpha/preview.png").status_code == 404


def og_image(html):
    return re.search(r'<meta property="og:image" content="([^"]+)">', html).group(1)


def test_comparison_pages_announce_the_picture(client, sample_kb):
    html = client.get("/compare/alpha-vs-beta/").content.decode()
    version = m.ContentVersion.objects.state().key
    assert og_image(html) == f"http://testserver/compare/alpha-vs-beta/preview.png?v={version}"
    assert '<meta property="og:image:width" content="1200">' in html
    assert '<meta property="og:image:height" content="630">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert '<meta property="og:image:alt"' in html
    # Other pages keep the small card.
    assert '<meta name="twitter:card" content="summary">' in client.get("/").content.decode()


def test_the_picture_url_changes_with_the_content(client, sample_kb):
    """Chat apps keep a link's picture by its URL: a content change must give a new one."""
    before = og_image(client.get("/compare/alpha-vs-beta/").content.decode())
    assert client.get(before.removeprefix("http://testserver")).status_code == 200
    claim = m.Claim.objects.published().filter(subject__slug="alpha").first()
    claim.cell += " (changed)"
    claim.save()
    after = og_image(client.get("/compare/alpha-vs-beta/").content.decode())
    assert after != before
    assert png_of(client.get(after.removeprefix("http://testserver"))).size == (1200, 630)


# Citing ------------------------------------------------------------------------------


def test_the_page_offers_the_citation(client, sample_kb):
    latest = max(
        claim.changed or claim.updated
        for claim in m.Claim.objects.published().filter(subject__slug__in=["alpha", "beta"])
    )
    response = client.get("/compare/alpha-vs-beta/")
    html = response.content.decode()
    assert "Cite this comparison" in html
    assert latest.date().isoformat() in html
    # Copy link and the citation downloads name the pinned form of the page, which never changes.
    version = m.ContentVersion.objects.state().key
    pinned = f"http://testserver/compare/alpha-vs-beta/v/{version}/"
    assert f'<a href="{pinned}" data-copy-link>{pinned}</a>' in html
    assert f'href="/compare/alpha-vs-beta/cite.bib?version={version}"' in html
    assert f'href="/compare/alpha-vs-beta/cite.json?version={version}"' in html


def test_pinned_citations_name_the_pinned_page(client, sample_kb):
    version = m.ContentVersion.objects.state().key
    fields = _bibtex_fields(client.get(f"/compare/alpha-vs-beta/cite.bib?version={version}").content.decode())
    assert fields["url"] == f"http://testserver/compare/alpha-vs-beta/v/{version}/"
    (item,) = json.loads(client.get(f"/compare/alpha-vs-beta/cite.json?version={version}").content)
    assert item["URL"] == f"http://testserver/compare/alpha-vs-beta/v/{version}/"
    # A version of another database (or none at all) cites the live page.
    (item,) = json.loads(client.get("/compare/alpha-vs-beta/cite.json?version=0123456789abcdef-1").content)
    assert item["URL"] == "http://testserver/compare/alpha-vs-beta/"


def _bibtex_fields(text):
    """A strict reading of one BibTeX record: every field's braces balance, every special character is escaped."""
    assert text.startswith("@misc{kb-alpha-vs-beta,\n") and text.endswith("}\n")
    fields = {}
    for line in text.splitlines()[1:-1]:
        name, value = re.fullmatch(r"  ([a-z]+) = (.*),", line).groups()
        if value.startswith("{"):
            depth = 0
            for index, character in enumerate(value):
                if character == "{" and (index == 0 or value[index - 1] != "\\"):
                    depth += 1
                elif character == "}" and value[index - 1] != "\\":
                    depth -= 1
                    assert depth >= 0 or index == len(value) - 1
            assert depth == 0, line
            value = value[1:-1]
        fields[name] = value
    return fields


def test_bibtex_download_is_valid_and_escaped(client, sample_kb):
    m.Subject.objects.filter(slug="alpha").update(name="Al{pha} & C# 100% $x_y ~^\\")
    response = client.get("/compare/alpha-vs-beta/cite.bib")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-bibtex; charset=utf-8"
    assert 'filename="kb-alpha-vs-beta.bib"' in response["Content-Disposition"]
    fields = _bibtex_fields(response.content.decode())
    assert fields["title"] == (
        r"{Al\{pha\} \& C\# 100\% \$x\_y \textasciitilde{}\textasciicircum{}\textbackslash{} vs Beta: comparison}"
    )
    assert fields["url"] == "http://testserver/compare/alpha-vs-beta/"
    assert fields["howpublished"] == r"\url{http://testserver/compare/alpha-vs-beta/}"
    assert re.fullmatch(r"\d{4}", fields["year"]) and fields["month"] in kb_citation.MONTHS


def test_csl_json_download_is_valid(client, sample_kb):
    response = client.get("/compare/alpha-vs-beta/cite.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.citationstyles.csl+json")
    (item,) = json.loads(response.content)
    assert item["type"] == "webpage" and item["id"] == "kb-alpha-vs-beta"
    assert item["title"] == "Alpha vs Beta: comparison"
    assert item["URL"] == "http://testserver/compare/alpha-vs-beta/"
    (parts,) = item["issued"]["date-parts"]
    assert len(parts) == 3 and all(isinstance(part, int) for part in parts)
    assert item["author"] == [{"literal": "Comparison KB"}]


def test_citation_of_a_comparison_without_claims_has_no_date(sample_kb):
    kind = m.Subject.objects.get(slug="alpha").kind
    empty = [m.Subject.objects.create(slug=slug, name=slug.title(), kind=kind) for slug in ("xx", "yy")]
    citation = kb_citation.for_comparison(empty, "http://example.org/compare/xx-vs-yy/", "KB")
    assert citation.content_date is None
    assert "year" not in kb_citation.bibtex(citation)
    assert "issued" not in kb_citation.csl_json(citation)[0]


def test_bibtex_escape_keeps_text_on_one_line():
    assert kb_citation.bibtex_escape("a\n  b}\t{c") == r"a b\} \{c"


# Favicon -----------------------------------------------------------------------------


def test_favicon_is_served(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/vnd.microsoft.icon"
    assert Image.open(io.BytesIO(response.content)).format == "ICO"


def test_pages_link_their_icons(client, sample_kb):
    html = client.get(reverse("kb:home")).content.decode()
    assert 'rel="icon"' in html
