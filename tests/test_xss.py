"""Cross-site scripting: hostile Markdown and text saved through the real pipeline, then the real pages.

Every payload is saved (model save -> kb.knowledge.rendering) into a claim body and editor
note, a claim's cell, a subject summary, a snippet explanation and source note, a
source's notes and an excerpt's text; then the claim page, the comparison page
with the cell, the subject, task and source pages are parsed, and nothing that
runs script may be anywhere in them: no <script> but the site's own same-origin
files, no on* handler, no style attribute, no javascript:/data:/vbscript: URL.
"""

import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from kb.knowledge import models as m
from kb.knowledge.rendering import render_markdown

pytestmark = pytest.mark.django_db

PAYLOADS = [
    # Raw HTML
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<iframe srcdoc='&lt;script&gt;alert(1)&lt;/script&gt;'></iframe>",
    '<a href="javascript:alert(1)">x</a>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<object data=javascript:alert(1)></object><embed src=javascript:alert(1)>",
    "<base href=javascript:alert(1)//>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<form action=javascript:alert(1)><button formaction=javascript:alert(1)>x</button></form>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<details open ontoggle=alert(1)>x</details>",
    "<body onload=alert(1)>",
    '"><script>alert(1)</script>',
    "</textarea></title></style><script>alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<!--><script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    # Mutation XSS shapes
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    # Markdown links and images
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(document.cookie))",
    "[click]( javascript:alert(1) )",
    "[click](<javascript:alert(1)>)",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "![image](javascript:alert(1))",
    "![image](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '![image](x" onerror="alert(1))',
    '[x](https://example.org/" onmouseover="alert(1))',
    '[x](https://example.org/ "title\\" onmouseover=\\"alert(1)")',
    "[reference][1]\n\n[1]: javascript:alert(1)",
    "![reference][1]\n\n[1]: data:text/html,<script>alert(1)</script>",
    '[reference][x]\n\n[x]: vbscript:msgbox(1) "title"',
    "<javascript:alert(1)>",
    "<vbscript:msgbox(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    # Entity-encoded and split schemes
    "[a](&#106;avascript:alert(1))",
    "[a](&#x6A;avascript:alert(1))",
    "[a](&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1))",
    "[a](javascript&colon;alert(1))",
    "[a](java\tscript:alert(1))",
    "[a](java&#9;script:alert(1))",
    "[a](java&#x0A;script:alert(1))",
    "[a](\x01javascript:alert(1))",
    "[a](&#x20;javascript:alert(1))",
    # Attribute lists (the extension is off: they must stay text)
    'A paragraph {: onclick="alert(1)" }',
    '# A heading {: #x onmouseover="alert(1)" style="color:red" }',
    "[link](https://example.org){: onclick=alert(1) }",
    # Inside code, tables and lists
    "```html\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
    "    <script>alert(1)</script>",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | [x](javascript:alert(1)) |",
    "- <img src=x onerror=alert(1)>\n- [x](javascript:alert(1))",
    "> <svg onload=alert(1)>",
    # Template syntax is text too
    "{{ settings.SECRET_KEY }} {% debug %}",
]

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "cite", "poster", "background", "data", "srcset"}
DANGEROUS_SCHEMES = ("javascript:", "data:", "vbscript:")
FORBIDDEN_TAGS = {"iframe", "frame", "object", "embed", "base", "svg", "math", "style", "noscript", "applet", "portal"}

C0_AND_SPACE = "".join(chr(code) for code in range(0x21))


def url_as_browsers_read_it(value):
    """What a browser's URL parser sees: leading and trailing C0 controls and spaces dropped, then tabs and
    newlines removed anywhere (so "java\tscript:" is javascript:, "java    script:" a relative path)."""
    return re.sub(r"[\t\n\r]", "", value.strip(C0_AND_SPACE))


class DangerFinder(HTMLParser):
    """Everything in a page that could run script, as readable problems."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            src = attributes.get("src") or ""
            if not src.startswith("/static/"):
                self.problems.append(f"<script> that is not a site file: {attrs}")
            self.in_script = True
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> element")
        if tag == "meta" and "http-equiv" in attributes:
            self.problems.append(f"<meta http-equiv>: {attrs}")
        if tag == "link" and not (attributes.get("href") or "").startswith(("/", "http://testserver")):
            self.problems.append(f"<link> to another origin: {attrs}")
        for name, value in attrs:
            name = name.lower()
            if name.startswith("on"):
                self.problems.append(f"event handler {name} on <{tag}>")
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name in URL_ATTRIBUTES and value:
                scheme = url_as_browsers_read_it(value).lower()
                if scheme.startswith(DANGEROUS_SCHEMES):
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and data.strip():
            self.problems.append(f"inline script: {data[:80]!r}")


def dangers(html):
    finder = DangerFinder()
    finder.feed(html)
    finder.close()
    return finder.problems


def assert_safe_page(response, label):
    assert response.status_code == 200, label
    assert response["Content-Type"].startswith("text/html")
    problems = dangers(response.content.decode())
    assert not problems, f"{label}: " + "; ".join(problems)


def test_the_finder_finds(client):
    """The checker itself: each kind of danger is reported."""
    for html in [
        "<script>alert(1)</script>",
        '<script src="https://evil.example/x.js"></script>',
        "<img src=x onerror=alert(1)>",
        '<p style="color:red">x</p>',
        '<a href="java&#9;script:alert(1)">x</a>',
        '<a href=" JAVASCRIPT:alert(1)">x</a>',
        '<a href="\x01java\nscript:alert(1)">x</a>',
        '<img src="data:image/svg+xml,x">',
        '<form action="vbscript:x"></form>',
        '<button formaction="javascript:x">',
        "<svg></svg>",
        "<iframe></iframe>",
    ]:
        assert dangers(html), html
    assert not dangers('<script src="/static/js/site.abc.js" defer></script><a href="/x">x</a>')


# Saving payloads through the real pipeline -------------------------------------------


def save_everywhere(payload):
    """The payload in every Markdown field of a page, and in plain-text fields too."""
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    claim.body = payload
    claim.editor_note = payload
    claim.cell = payload.replace("\n", " ")[:200]
    claim.save()
    subject = m.Subject.objects.get(slug="alpha")
    subject.summary = payload
    subject.save()
    source = m.Source.objects.get(slug="sample")
    source.notes = payload
    source.author = payload.replace("\n", " ")[:100]
    source.save()
    excerpt = m.Excerpt.objects.get(source=source, key="alpha-widgets")
    excerpt.locator = payload.replace("\n", " ")[:100]
    excerpt.save()
    task = m.Task.objects.get(slug="hello")
    task.description = payload
    task.save()
    for snippet in m.Snippet.objects.filter(task=task):
        snippet.explanation = payload
        snippet.source_note = payload
        snippet.code = payload
        snippet.save()
    return claim


def pages(claim):
    return {
        "claim": claim.get_absolute_url(),
        "comparison": reverse("kb:compare", kwargs={"spec": ["alpha", "beta"]}) + "#widgets--alpha",
        "subject": reverse("kb:subject", args=["alpha"]),
        "source": reverse("kb:source", args=["sample"]),
        "task": reverse("kb:task", args=["hello"]),
        "dimension": reverse("kb:dimension", args=["widgets"]),
        "home": reverse("kb:home"),
    }


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_payload_is_neutralised_on_every_page(client, sample_kb, payload):
    claim = save_everywhere(payload)
    for field in (claim.body_html, claim.editor_note_html):
        assert not dangers(field), field
    for label, url in pages(claim).items():
        response = client.get(url)
        assert_safe_page(response, f"{label} page with {payload!r}")
    comparison = client.get(pages(claim)["comparison"]).content.decode()
    assert 'id="widgets--alpha"' in comparison  # the cell holding the payload is on the page


@pytest.mark.parametrize("payload", PAYLOADS)
def test_rendering_alone_is_safe(payload):
    html = render_markdown(payload)
    assert not dangers(html), html
    assert "<script" not in html.lower()


def test_safe_markdown_still_renders():
    html = render_markdown("A [link](https://example.org/a?b=1&c=2), *emphasis* and `code`.")
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener">link</a>' in html
    assert "<em>emphasis</em>" in html
    assert "<code>code</code>" in html


# Reflected input: query parameters shown back on the page -----------------------------


@pytest.mark.parametrize(
    "payload",
    [
        '"><script>alert(1)</script>',
        "'><img src=x onerror=alert(1)>",
        "javascript:alert(1)",
        '" onfocus="alert(1)" autofocus="',
        "</title><script>alert(1)</script>",
    ],
)
def test_reflected_parameters(client, sample_kb, payload):
    value = quote(payload, safe="")
    compare = reverse("kb:compare", kwargs={"spec": ["alpha", "beta"]})
    for url in [
        f"{compare}?q={value}&group={value}&support={value}&source={value}&only_contested={value}",
        f"{reverse('kb:compare-form')}?subjects={value}&subjects=alpha&q={value}",
        f"{reverse('kb:snippets')}?task={value}&subject={value}",
        f"{reverse('kb:search')}?q={value}",
    ]:
        response = client.get(url)
        assert_safe_page(response, url)


def test_unknown_subject_names_are_escaped_on_the_404_page(client, sample_kb):
    response = client.get("/compare/alpha-vs-scriptalert1script/")
    assert response.status_code == 404
    assert not dangers(response.content.decode())


# URLs that are fields rather than Markdown -------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
    ],
)
def test_url_fields_refuse_dangerous_schemes(sample_kb, url):
    """Source urls and subject homepages are validated (the loader and the admin both run full_clean)."""
    source = m.Source.objects.get(slug="sample")
    source.url = url
    with pytest.raises(ValidationError) as error:
        source.full_clean()
    assert "url" in error.value.message_dict
    subject = m.Subject.objects.get(slug="alpha")
    subject.homepage = url
    with pytest.raises(ValidationError) as error:
        subject.full_clean()
    assert "homepage" in error.value.message_dict


def test_a_valid_url_with_markup_is_escaped(client, sample_kb):
    hostile = 'https://example.org/"><script>alert(1)</script><a\tonclick="x'
    source = m.Source.objects.get(slug="sample")
    source.url = hostile
    source.save()  # whether or not Django's URL validator accepts it, it must be escaped wherever it is shown
    subject = m.Subject.objects.get(slug="alpha")
    subject.homepage = hostile
    subject.save()
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    for label, url in pages(claim).items():
        assert_safe_page(client.get(url), f"{label} page with a hostile source url")
