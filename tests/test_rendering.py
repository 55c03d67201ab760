"""Markdown rendering is safe: nothing executable or styled survives, Pygments classes do."""

import re
from html.parser import HTMLParser

import pytest

from kb.knowledge.rendering import ALLOWED_TAGS, highlight, render_markdown

SAFE_SCHEMES = {"http", "https", "mailto"}
SAFE_TAGS = ALLOWED_TAGS


class Elements(HTMLParser):
    """The real elements and attributes of rendered HTML (escaped text is just text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def scheme_of(url):
    # What a browser does first: drop leading C0 controls and spaces, and tabs and newlines anywhere.
    cleaned = re.sub(r"^[\x00-\x20]+", "", re.sub(r"[\t\n\r]", "", url))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", cleaned)
    return match.group(1).lower() if match else None


def assert_safe(html):
    parser = Elements()
    parser.feed(html)
    for tag, attributes in parser.elements:
        assert tag in SAFE_TAGS, html
        for name, value in attributes.items():
            assert not name.startswith("on"), html
            assert name not in {"style", "src", "srcdoc", "formaction", "id"}, html
            if name == "href":
                assert scheme_of(value or "") in SAFE_SCHEMES | {None}, html


@pytest.mark.parametrize(
    "source",
    [
        # Raw HTML, as a block and inline.
        "<script>alert(1)</script>",
        "<div onclick='alert(1)'>hi</div>",
        "text <img src=x onerror=alert(1)> text",
        "<iframe src='https://evil.example'></iframe>",
        "<style>body{display:none}</style>",
        "<a href='javascript:alert(1)'>x</a>",
        "<svg onload=alert(1)>",
        "<!-- <script>alert(1)</script> -->",
        "<form action='https://evil.example'><input name=a></form>",
        # javascript: in every Markdown link form.
        "[x](javascript:alert(1))",
        "[x]( JaVaScRiPt:alert(1) )",
        "[x](<javascript:alert(1)>)",
        "![x](javascript:alert(1))",
        "[x][ref]\n\n[ref]: javascript:alert(1)",
        "![x][ref]\n\n[ref]: javascript:alert(1)",
        "<javascript:alert(1)>",
        "[x](vbscript:msgbox(1))",
        # data: URLs.
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
        "[x][d]\n\n[d]: data:text/html,<script>alert(1)</script>",
        # Attribute lists.
        'para\n{: onclick="alert(1)" }',
        "# Heading {: onclick=alert(1) style='color:red' }",
        "[x](http://example.org){: onclick=alert(1) }",
        # Entity-encoded schemes.
        "[x](&#106;avascript:alert(1))",
        "[x](&#x6A;avascript:alert(1))",
        "[x](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1))",
        "[x](java&#x09;script:alert(1))",
        "[x](java&#10;script:alert(1))",
        "[x](&#0000106avascript:alert(1))",
        '<a href="&#106;avascript:alert(1)">x</a>',
        "[x](javascript&colon;alert(1))",
        # Link titles cannot break out of the attribute.
        '[x](http://example.org "t\\" onmouseover=alert(1) x=\\"")',
    ],
)
def test_nothing_executable_survives(source):
    assert_safe(render_markdown(source))


@pytest.mark.parametrize(
    "html",
    [
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" &#10;java&#9;script:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<p onclick="x">x</p>',
        '<span style="color:red">x</span>',
        "<script>alert(1)</script>",
        '<img src="x">',
    ],
)
def test_the_checker_itself_catches_unsafe_html(html):
    with pytest.raises(AssertionError):
        assert_safe(html)


def test_raw_html_is_shown_as_text_not_interpreted():
    html = render_markdown("Use <b>bold</b> and <script>alert(1)</script>.")
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;script&gt;" in html
    assert "<b>" not in html and "<script" not in html


def test_attribute_lists_are_not_applied():
    html = render_markdown('para\n{: #id .cls onclick="alert(1)" }')
    assert_safe(html)
    assert 'id="id"' not in html and 'class="cls"' not in html


def test_safe_links_survive_with_rel():
    html = render_markdown("[docs](https://example.org/a?b=1) and <https://example.org/> and <a@example.org>")
    assert '<a href="https://example.org/a?b=1" rel="nofollow noopener">docs</a>' in html
    assert '<a href="https://example.org/" rel="nofollow noopener">' in html
    assert 'href="mailto:a@example.org"' in html


def test_relative_links_survive():
    assert '<a href="/subjects/flask/"' in render_markdown("[Flask](/subjects/flask/)")


def test_markdown_features_survive():
    html = render_markdown("*em* **strong** `code`\n\n- a\n- b\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    for fragment in ["<em>em</em>", "<strong>strong</strong>", "<code>code</code>", "<li>a</li>", "<td>1</td>"]:
        assert fragment in html


def test_fenced_code_keeps_pygments_classes_and_no_inline_styles():
    html = render_markdown("```python\ndef f():\n    return '<b>'\n```")
    assert '<div class="highlight">' in html
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">f</span>' in html
    assert "&lt;b&gt;" in html
    assert "style=" not in html


def test_fenced_html_code_is_escaped():
    html = render_markdown("```html\n<script>alert(1)</script>\n```")
    assert "<script" not in html
    assert '<span class="nt">script</span>' in html


def test_highlight_uses_classes_only():
    html = highlight("<script>alert('x')</script>", "html")
    assert html.startswith('<div class="highlight">')
    assert "<script" not in html
    assert "style=" not in html
    assert highlight("x = 1", "no-such-language").startswith('<div class="highlight">')


def test_empty_input():
    assert render_markdown("") == ""
    assert render_markdown(None) == ""
