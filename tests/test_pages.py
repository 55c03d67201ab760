"""Readers' pages on the sample knowledge base: content, drafts, metadata, markup rules."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from kb.knowledge.models import Claim, Source, Status, Subject
from kb.knowledge.signals import content_changed

# HTML checks shared by the page tests (and imported by test_urls_smoke) ------------


class PageChecker(HTMLParser):
    """Collects what the markup rules care about: h1s, ids, inline code, head metadata."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.h1_count = 0
        self.ids = []
        self.inline_scripts = 0
        self.style_elements = 0
        self.style_attributes = []
        self.event_attributes = []
        self.meta = {}
        self.links = {}
        self.title = ""
        self.landmarks = set()
        self._in_title = False
        self.unlabelled_tables = 0
        self._table_depth = 0
        self._table_has_caption = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "h1":
            self.h1_count += 1
        if "id" in attributes:
            self.ids.append(attributes["id"])
        if tag == "script" and not attributes.get("src"):
            self.inline_scripts += 1
        if tag == "style":
            self.style_elements += 1
        if "style" in attributes:
            self.style_attributes.append(tag)
        self.event_attributes += [name for name in attributes if name.startswith("on")]
        if tag == "meta":
            key = attributes.get("name") or attributes.get("property")
            if key:
                self.meta[key] = attributes.get("content", "")
        if tag == "link" and attributes.get("rel"):
            self.links.setdefault(attributes["rel"], attributes.get("href"))
        if tag == "title":
            self._in_title = True
        if tag in {"main", "header", "footer", "nav"}:
            self.landmarks.add(tag)
        if tag == "table":
            self._table_has_caption.append(False)
        if tag == "caption" and self._table_has_caption:
            self._table_has_caption[-1] = True

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag == "table" and self._table_has_caption and not self._table_has_caption.pop():
            self.unlabelled_tables += 1

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def check_page(response):
    """Parse an HTML response and assert the site-wide markup rules; returns the checker."""
    assert response["Content-Type"].startswith("text/html")
    checker = PageChecker()
    checker.feed(response.content.decode())
    assert checker.h1_count == 1, f"{checker.h1_count} <h1> elements"
    assert checker.inline_scripts == 0, "inline <script>"
    assert checker.style_elements == 0, "<style> element"
    assert not checker.style_attributes, f"style attribute on {checker.style_attributes}"
    assert not checker.event_attributes, f"event handler attributes {checker.event_attributes}"
    duplicates = {i for i in checker.ids if checker.ids.count(i) > 1}
    assert not duplicates, f"duplicate ids {duplicates}"
    assert checker.unlabelled_tables == 0, "table without caption"
    assert {"main", "header", "footer", "nav"} <= checker.landmarks
    return checker


def text_of(response):
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("editor", password="pw", is_staff=True)
    client.force_login(user)
    return client


# Metadata --------------------------------------------------------------------------

PAGES = [
    ("kb:home", []),
    ("kb:subject-list", []),
    ("kb:subject", ["alpha"]),
    ("kb:dimension-list", []),
    ("kb:dimension", ["startup"]),
    ("kb:claim", ["alpha", "widgets"]),
    ("kb:source-list", []),
    ("kb:source", ["sample"]),
    ("kb:snippets", []),
    ("kb:task", ["hello"]),
    ("kb:search", []),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_every_page_has_its_own_metadata(client, sample_kb, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 200
    page = check_page(response)
    title = response.context["page_title"]
    description = response.context["page_description"]
    assert title and description
    assert page.title == f"{title} · Comparison KB"
    assert page.meta["description"] == description
    assert page.links["canonical"] == f"http://testserver{url}"
    assert page.meta["og:title"] == title
    assert page.meta["og:description"] == description
    assert page.meta["og:url"] == f"http://testserver{url}"
    assert page.meta["og:site_name"] == "Comparison KB"
    assert page.meta["og:type"] in {"website", "article"}
    assert page.meta["twitter:card"] == "summary"


def test_titles_differ_between_pages(client, sample_kb):
    titles = {client.get(reverse(name, args=args)).context["page_title"] for name, args in PAGES}
    assert len(titles) == len(PAGES)


def test_base_has_skip_link_nav_search_and_feed(client, sample_kb):
    html = client.get(reverse("kb:home")).content.decode()
    assert 'class="skip-link" href="#main"' in html
    assert '<main id="main"' in html
    for name in ["kb:compare-form", "kb:subject-list", "kb:dimension-list", "kb:source-list", "kb:snippets"]:
        assert f'href="{reverse(name)}"' in html
    assert f'action="{reverse("kb:search")}"' in html
    assert '<label for="site-search-q"' in html
    assert 'name="q"' in html
    assert f'href="{reverse("kb:feed-claims")}"' in html
    assert "Open data" in html


def test_static_assets_are_deferred_scripts_and_stylesheets(client, sample_kb):
    html = client.get(reverse("kb:home")).content.decode()
    assert re.search(r'<script src="/static/js/site\.[0-9a-f]+\.js" defer></script>', html)
    assert re.search(r'<link rel="stylesheet" href="/static/css/site\.[0-9a-f]+\.css">', html)
    assert "fonts.googleapis" not in html and "cdn" not in html.lower()


# Home ------------------------------------------------------------------------------


def test_home_lists_featured_kinds_groups_and_recent_changes(client, sample_kb):
    response = client.get(reverse("kb:home"))
    html = text_of(response)
    # The sample's content/featured.yaml features alpha-vs-beta, with its note.
    assert "The two sample subjects side by side." in html
    assert reverse("kb:compare", args=[["alpha", "beta"]]) in html
    assert "Alpha vs Beta" in html
    assert "Tool" in html and "Plugin" in html
    assert "Features" in html and "Operations" in html
    assert "Widget engine built in" in html
    assert "Fast enough to start" not in html  # a draft


def test_home_features_what_the_content_features(client, sample_kb):
    from kb.knowledge.models import FeaturedComparison

    kind = Subject.objects.get(slug="alpha").kind
    Subject.objects.create(slug="flask", name="Flask", kind=kind)
    Subject.objects.create(slug="django", name="Django", kind=kind)
    html = client.get(reverse("kb:home")).content.decode()
    assert 'href="/compare/flask-vs-django/"' not in html  # no engine default names a domain
    FeaturedComparison.objects.create(path="flask-vs-django", title="Flask vs Django", order=2)
    html = client.get(reverse("kb:home")).content.decode()
    assert 'href="/compare/flask-vs-django/"' in html


# Subjects --------------------------------------------------------------------------


def test_subject_list_groups_by_kind(client, sample_kb):
    html = text_of(client.get(reverse("kb:subject-list")))
    assert html.index(">Tool<") < html.index(">Alpha<") < html.index(">Plugin<") < html.index(">beta-widgets<")
    assert "2 published claims" in html


def test_subject_page_shows_published_claims_by_dimension_in_group_order(client, sample_kb):
    response = client.get(reverse("kb:subject", args=["alpha"]))
    html = text_of(response)
    assert "Alpha is a <em>sample</em> tool." in html
    assert html.index(">Features<") < html.index(">Widgets<") < html.index(">Operations<")
    assert html.index("Widget engine built in") < html.index("Slow to start")
    assert "Fast enough to start" not in html
    assert "Draft preview" not in html
    # The contradicted start-up cell is marked as contested, with a word, not a colour only (the
    # comparisons' cell, drawn by the one cell template).
    startup = re.search(r'<td id="startup--alpha".*?</td>', html).group(0)
    assert 'class="cmp-cell--contested"' in startup and "Contested</span>" in startup
    assert "Contested</span>" not in re.search(r'<td id="widgets--alpha".*?</td>', html).group(0)
    assert "Built in" in html and "badge--built-in" in html
    # Quotes and compare links.
    assert "Alpha ships a widget engine in the box." in html
    assert 'href="/compare/alpha-vs-beta/"' in html
    assert 'href="https://alpha.example.org/"' in html


def test_subject_page_shows_relations_both_ways(client, sample_kb):
    beta = text_of(client.get(reverse("kb:subject", args=["beta"])))
    assert "beta-widgets</a> extends Beta" in beta
    plugin = text_of(client.get(reverse("kb:subject", args=["beta-widgets"])))
    assert 'beta-widgets extends <a href="/subjects/beta/">Beta</a>' in plugin


def test_subject_page_links_snippets_and_feed(client, sample_kb):
    html = client.get(reverse("kb:subject", args=["alpha"])).content.decode()
    assert 'href="/snippets/hello/#snippet-alpha-python"' in html
    assert f'href="{reverse("kb:feed-subject", args=["alpha"])}"' in html


def test_old_subject_slug_redirects(client, sample_kb):
    response = client.get(reverse("kb:subject", args=["alpha-classic"]))
    assert response.status_code == 301
    assert response["Location"] == reverse("kb:subject", args=["alpha"])
    response = client.get(reverse("kb:claim", args=["alpha-classic", "widgets"]))
    assert response.status_code == 301
    assert response["Location"] == reverse("kb:claim", args=["alpha", "widgets"])


# Drafts and preview ----------------------------------------------------------------


def test_readers_never_see_drafts(client, sample_kb):
    assert client.get(reverse("kb:claim", args=["alpha", "fast-start"])).status_code == 404
    assert client.get(reverse("kb:claim", args=["alpha", "fast-start"]) + "?preview=1").status_code == 404
    html = client.get(reverse("kb:subject", args=["alpha"]) + "?preview=1").content.decode()
    assert "Fast enough to start" not in html
    assert "Draft preview" not in html


def test_staff_without_preview_see_published_only(staff_client, sample_kb):
    assert staff_client.get(reverse("kb:claim", args=["alpha", "fast-start"])).status_code == 404
    html = staff_client.get(reverse("kb:subject", args=["alpha"])).content.decode()
    assert "Fast enough to start" not in html


def test_staff_preview_shows_drafts_with_a_banner(staff_client, sample_kb):
    response = staff_client.get(reverse("kb:subject", args=["alpha"]) + "?preview=1")
    html = text_of(response)
    check_page(response)
    assert "Draft preview" in html
    assert "Fast enough to start" in html
    assert "badge--draft" in html
    assert 'href="/claims/alpha/fast-start/?preview=1"' in html

    response = staff_client.get(reverse("kb:claim", args=["alpha", "fast-start"]) + "?preview=1")
    assert response.status_code == 200
    html = text_of(response)
    assert "Draft preview" in html
    assert "Measured by nobody." in html


def test_published_claim_in_preview_still_has_banner(staff_client, sample_kb):
    html = staff_client.get(reverse("kb:claim", args=["alpha", "widgets"]) + "?preview=1").content.decode()
    assert "Draft preview" in html


# Claims ----------------------------------------------------------------------------


def test_claim_page_shows_excerpts_stances_sources_and_dates(client, sample_kb):
    response = client.get(reverse("kb:claim", args=["alpha", "slow-start"]))
    html = text_of(response)
    claim = Claim.objects.get(subject__slug="alpha", key="slow-start")
    assert "<h1>Alpha: Slow to start</h1>" in html
    assert "Alpha is slow to start." in html
    assert "Alpha starts fast enough for most uses." in html
    assert "stance--supports" in html and "stance--contradicts" in html
    assert "Contradicts" in html
    assert "A Commenter, in a comment on" in html
    assert 'href="/sources/sample/#excerpt-alpha-slow"' in html
    assert "Ann Author" in html and "Example Press" in html
    assert '<time datetime="2020-01-31">31 January 2020</time>' in html
    assert f'<time datetime="{claim.added.isoformat()}">' in html  # the content's own dates
    assert f'<time datetime="{claim.changed.isoformat()}">' in html
    # The sample source has no URL: no external link, no cite attribute.
    assert 'rel="external' not in html
    assert "cite=" not in html


def test_claim_page_marks_editor_note_apart(staff_client, sample_kb):
    html = text_of(staff_client.get(reverse("kb:claim", args=["alpha", "fast-start"]) + "?preview=1"))
    assert 'class="editor-note"' in html
    assert "Editor's note" in html
    assert "not quoted from a source" in html


def test_source_url_gives_external_link(client, sample_kb):
    Source.objects.filter(slug="sample").update(url="https://example.org/widgets")
    html = client.get(reverse("kb:claim", args=["alpha", "widgets"])).content.decode()
    assert 'href="https://example.org/widgets" rel="external noopener"' in html
    assert 'cite="https://example.org/widgets"' in html


def test_markdown_html_is_the_only_unescaped_text(client, sample_kb):
    claim = Claim.objects.get(subject__slug="alpha", key="widgets")
    claim.cell = "<b>bold</b> cell"
    claim.body = "Body with <script>alert(1)</script> and *emphasis*."
    claim.save()
    html = client.get(reverse("kb:claim", args=["alpha", "widgets"])).content.decode()
    assert "&lt;b&gt;bold&lt;/b&gt; cell" in html
    assert "<script>alert" not in html
    assert "<em>emphasis</em>" in html


# Dimensions ------------------------------------------------------------------------


def test_dimension_list_groups_dimensions(client, sample_kb):
    html = text_of(client.get(reverse("kb:dimension-list")))
    assert html.index(">Features<") < html.index(">Widgets<") < html.index(">Operations<") < html.index("Start-up time")


def test_dimension_page_shows_every_subject_with_excerpts(client, sample_kb):
    html = text_of(client.get(reverse("kb:dimension", args=["widgets"])))
    assert "Whether widgets come in the box." in html
    assert "Widget engine built in" in html and "Widgets via plugins" in html
    assert "Alpha ships a widget engine in the box." in html
    assert "Beta leaves widgets to plugins" in html
    assert "Via extension" in html


# Sources ---------------------------------------------------------------------------


def test_source_list_is_a_table(client, sample_kb):
    response = client.get(reverse("kb:source-list"))
    html = text_of(response)
    check_page(response)
    assert '<th scope="col">Title</th>' in html
    assert "A Sample Article About Widgets</a></th>" in html


def test_source_page_anchors_every_excerpt_and_links_claims(client, sample_kb):
    response = client.get(reverse("kb:source", args=["sample"]))
    html = text_of(response)
    for key in ["alpha-widgets", "beta-plugins", "alpha-slow", "alpha-fast"]:
        assert f'id="excerpt-{key}"' in html
    assert 'href="/claims/alpha/slow-start/"' in html
    assert 'href="/claims/beta/widgets/"' in html
    # alpha-fast supports only a draft: readers do not see that claim linked.
    assert 'href="/claims/alpha/fast-start/"' not in html
    assert "No public address" in html
    assert 'href="/snippets/hello/#snippet-alpha-python"' in html
    excerpt = Source.objects.get(slug="sample").excerpts.get(key="beta-plugins")
    assert excerpt.get_absolute_url().endswith("#excerpt-beta-plugins")


# Snippets --------------------------------------------------------------------------


def test_snippet_index_lists_tasks(client, sample_kb):
    response = client.get(reverse("kb:snippets"))
    html = text_of(response)
    check_page(response)
    assert 'href="/snippets/hello/"' in html
    assert '<label for="id_task">Task</label>' in html
    assert '<label for="id_subject">Subject</label>' in html


def test_snippet_index_filters_by_subject(client, sample_kb):
    html = client.get(reverse("kb:snippets"), {"subject": "beta"}).content.decode()
    assert "#snippet-beta-shell" in html
    assert "#snippet-alpha-python" not in html
    html = client.get(reverse("kb:snippets"), {"task": "hello", "subject": "alpha"}).content.decode()
    assert "#snippet-alpha-python" in html and "#snippet-beta-shell" not in html


def test_snippet_index_explains_and_ignores_invalid_filters(client, sample_kb):
    response = client.get(reverse("kb:snippets"), {"task": "nope", "subject": "<script>"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "not understood" in html
    assert "<script>" not in html
    assert "#snippet-alpha-python" in html and "#snippet-beta-shell" in html


def test_task_page_shows_snippets_side_by_side(client, sample_kb):
    response = client.get(reverse("kb:task", args=["hello"]))
    html = text_of(response)
    check_page(response)
    assert 'id="column-alpha"' in html and 'id="column-beta"' in html
    assert 'id="snippet-alpha-python"' in html and 'id="snippet-beta-shell"' in html
    assert '<div class="highlight">' in html
    assert '<span class="k">def</span>' in html
    assert "data-copy" in html
    assert "The simplest program." in html
    assert "What the source printed" in html and "The source printed no code." in html
    assert "Alpha ships a widget engine in the box." in html  # derived_from citation
    assert "Needs a Beta installation." in html
    assert "Ran without error with Python 3.11.7 on 21 November 2026." in html  # the recorded run, from the content


# Errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("kb:subject", ["nope"]),
        ("kb:dimension", ["nope"]),
        ("kb:claim", ["alpha", "nope"]),
        ("kb:claim", ["nope", "nope"]),
        ("kb:source", ["nope"]),
        ("kb:task", ["nope"]),
        ("kb:feed-subject", ["nope"]),
    ],
)
def test_unknown_slugs_are_404(client, sample_kb, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 404


def test_404_page_is_styled_and_has_one_h1(client, sample_kb):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    page = check_page(response)
    assert "Page not found" in page.title
    assert page.meta["robots"] == "noindex"
    assert "/no/such/page/" in response.content.decode()


def test_published_status_is_the_only_public_one(client, sample_kb):
    Claim.objects.filter(subject__slug="beta").update(status=Status.REVIEW)
    content_changed()  # as every bulk writer does after writing around the signals
    assert client.get(reverse("kb:claim", args=["beta", "widgets"])).status_code == 404
    assert "Widgets via plugins" not in client.get(reverse("kb:dimension", args=["widgets"])).content.decode()
