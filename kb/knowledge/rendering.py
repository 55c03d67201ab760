"""Markdown and code rendering: done once, at save time, and always sanitised.

Python-Markdown does not sanitise. Raw HTML in the Markdown source is not
interpreted at all (it is shown as text, see ``EscapeRawHtml``), and the output
still goes through nh3 (an allowlist HTML sanitiser) before it is stored.
Highlighted code comes from Pygments, whose output is built from escaped text
and CSS classes only.
"""

import re

import markdown
import nh3
from markdown.extensions import Extension
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_all_lexers, get_lexer_by_name
from pygments.util import ClassNotFound


class EscapeRawHtml(Extension):
    """Treat raw HTML blocks and inline tags as text: authors write Markdown, never HTML."""

    def extendMarkdown(self, md):
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


MARKDOWN_EXTENSIONS = ["fenced_code", "tables", "sane_lists", "codehilite", EscapeRawHtml()]
MARKDOWN_CONFIG = {"codehilite": {"guess_lang": False, "css_class": "highlight"}}

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h2", "h3", "h4",
    "hr", "i", "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table", "tbody",
    "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "div": {"class"},
    "span": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "th": {"scope"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

# Control characters (all but tab, line feed and carriage return; C1 too) and the two
# non-characters XML 1.0 refuses. The sanitiser decodes "&#1;" into U+0001, which no
# XML document (an Atom feed) can carry, and which means nothing on a page.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def strip_control(text):
    """``text`` without control characters (tab and line ends kept)."""
    return _CONTROL.sub("", text) if text else text


def sanitize(html):
    """Allowlisted HTML, with no control characters."""
    return strip_control(
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=ALLOWED_URL_SCHEMES,
            link_rel="nofollow noopener",
        )
    )


def render_markdown(text):
    """Markdown to safe HTML (raw HTML, unsafe links and attribute lists do not survive)."""
    if not text:
        return ""
    html = markdown.markdown(text, extensions=MARKDOWN_EXTENSIONS, extension_configs=MARKDOWN_CONFIG)
    return sanitize(html)


def highlight(code, language):
    """Code to highlighted HTML with Pygments CSS classes (no inline styles)."""
    try:
        lexer = get_lexer_by_name(language)
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return pygments_highlight(code, lexer, HtmlFormatter(cssclass="highlight", nowrap=False))


def _lexer_names():
    return {alias: name for name, aliases, _, _ in get_all_lexers() for alias in aliases}


_LEXER_NAMES = None


def language_name(alias):
    """Pygments' name for a lexer alias ("sql" -> "SQL"), or the alias itself."""
    global _LEXER_NAMES
    if _LEXER_NAMES is None:
        _LEXER_NAMES = _lexer_names()
    return _LEXER_NAMES.get(alias, alias)


def known_language(alias):
    try:
        get_lexer_by_name(alias)
    except ClassNotFound:
        return False
    return True
