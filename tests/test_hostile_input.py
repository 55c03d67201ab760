"""Hostile input to every URL of the site: never a 5xx, whatever is sent.

Every URL pattern of kb.urls (resolved from the URL conf itself, so a new one is
covered or this file fails) gets, on each of its filter, search and format
parameters and in its path: huge values, deep Unicode, lone surrogates, NUL and
control characters, SQL and template syntax, path traversal, repeated and
thousands of parameters, wrong types and out-of-range numbers, and overlong slugs.
The only acceptable answers are 200, 301/302, 400 and 404, on SQLite and on
PostgreSQL (which refuses NUL characters in text parameters with an error).
"""

from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.urls import app_patterns

pytestmark = pytest.mark.django_db

OK_STATUSES = {200, 301, 302, 400, 404}


@pytest.fixture
def raw_client(sample_kb):
    """A client that turns exceptions into the site's own error responses, as in production."""
    return Client(raise_request_exception=False)


def fetch(client, url):
    response = client.get(url)
    if response.streaming:  # whitenoise / FileResponse: consuming it closes it (never close() twice:
        b"".join(response.streaming_content)  # a second request_finished closes the test's DB connection)
    return response.status_code


def check_all(client, urls):
    """Fetch every URL; fail with the list of the ones answered badly.

    (How fast belongs to bench/; catastrophic backtracking is ruled out structurally by
    test_no_url_pattern_has_nested_repetition.)
    """
    bad = []
    for url in urls:
        status = fetch(client, url)
        if status not in OK_STATUSES:
            bad.append(f"{status}: {url[:160]}{'…' if len(url) > 160 else ''}")
    assert not bad, f"{len(bad)} of {len(urls)} hostile requests failed:\n" + "\n".join(bad)
    return len(urls)


# The URLs and their parameters ------------------------------------------------------

# Arguments for every named pattern, from tests/fixtures/content.
URL_ARGS = {
    "home": [],
    "compare-form": [],
    "compare": [["alpha", "beta"]],
    "compare-json": [["alpha", "beta"]],
    "compare-csv": [["alpha", "beta"]],
    "compare-preview": [["alpha", "beta"]],
    "compare-bibtex": [["alpha", "beta"]],
    "compare-csl": [["alpha", "beta"]],
    "compare-pinned": [["alpha", "beta"], "0-1"],  # not a version of this database: a 404 that says so
    "compare-changes": [["alpha", "beta"]],
    "compare-timegate": [["alpha", "beta"]],
    "compare-timemap": [["alpha", "beta"]],
    "favicon": [],
    "subject-list": [],
    "subject": ["alpha"],
    "dimension-list": [],
    "dimension": ["widgets"],
    "claim": ["alpha", "widgets"],
    "source-list": [],
    "source": ["sample"],
    "snippets": [],
    "task": ["hello"],
    "search": [],
    "feed-claims": [],
    "feed-subject": ["alpha"],
    "feed-compare": [["alpha", "beta"]],
    "sitemap": [],
    "sitemap-section": ["claims"],
    "robots": [],
}

FILTERS = ["group", "q", "support", "source", "only_differences", "only_contested"]
GENERIC = ["q", "page", "format", "preview", "sort"]
# Every parameter each page reads (and a few it does not, which must be ignored).
PARAMS = {
    "compare": [*FILTERS, "preview"],
    "compare-json": [*FILTERS, "preview"],
    "compare-csv": [*FILTERS, "preview"],
    "compare-pinned": [*FILTERS, "preview"],
    "compare-changes": ["from", "to", *FILTERS],
    "compare-bibtex": ["version"],
    "compare-csl": ["version"],
    "compare-form": ["subjects", *FILTERS],
    "snippets": ["task", "subject"],
    "search": ["q", "page"],
    "subject": ["preview"],
    "claim": ["preview"],
    "subject-list": ["page"],
    "dimension-list": ["page"],
    "sitemap-section": ["p"],
}


def named_patterns(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from named_patterns(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield pattern.name


NAMES = list(named_patterns(app_patterns))


def url_for(name):
    return reverse(f"kb:{name}", args=URL_ARGS[name])


def test_every_url_pattern_is_attacked():
    assert set(NAMES) == set(URL_ARGS), "a new URL pattern needs its arguments (and parameters) here"


# Values that have broken web applications before. Raw query-string text: already percent-encoded,
# so that invalid UTF-8 and NUL bytes reach Django exactly as a hostile client sends them.
def q(text):
    return quote(text, safe="")


PAYLOADS = {
    "huge": "a" * 100_000,
    "huge-words": q("alpha beta " * 9_000),
    "huge-unicode": q("é" * 20_000),
    "combining-marks": q("a" + "\u0301\u0302\u0303\u0304" * 2_000),
    "zalgo-slug": q("al\u0336p\u0337ha"),
    "rtl-override": q("\u202egpj.exe\u202c alpha"),
    "bidi-isolates": q("\u2066\u2067\u2068\u2069"),
    "astral-plane": q(
        "\U0001d56c\U0001d591\U0001d595\U0001d58d\U0001d586 \U0001f600\U0001f469\u200d\U0001f469\u200d\U0001f467 " * 50
    ),
    "fullwidth": q("\uff41\uff4c\uff50\uff48\uff41"),
    "lone-surrogate": "%ED%A0%80",
    "lone-low-surrogate": "x%ED%B0%80y",
    "invalid-utf8": "%FF%FE%C0%AF%80",
    "overlong-slash": "%C0%AF",
    "nul": "%00",
    "nul-inside": "alpha%00beta",
    "nul-run": "%00" * 200,
    "control-chars": q("".join(chr(code) for code in range(1, 32)) + "\x7f\x85\u2028\u2029"),
    "crlf-header": "%0D%0ASet-Cookie:%20pwned=1",
    "sql-or": q("' OR 1=1 --"),
    "sql-drop": q("1; DROP TABLE kb_subject; --"),
    "sql-union": q('" UNION SELECT username, password FROM auth_user --'),
    "like-wildcards": q("%_%\\%"),
    "template-var": q("{{ settings.SECRET_KEY }}{{ request.user }}"),
    "template-tag": q("{% debug %}{% load static %}{% include '/etc/passwd' %}"),
    "jinja": q("{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    "html": q("<script>alert(1)</script>\"'><img src=x onerror=alert(1)>"),
    "traversal": q("../../../../etc/passwd"),
    "traversal-encoded": "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "traversal-double-encoded": "%252e%252e%252fetc%252fpasswd",
    "traversal-windows": q("..\\..\\windows\\win.ini"),
    "huge-int": "9" * 400,
    "negative": "-1",
    "min-int64": "-9223372036854775809",
    "nan": "NaN",
    "infinity": "-Infinity",
    "float-overflow": "1e309",
    "empty": "",
    "whitespace": q(" \t\n\r\f\v"),
    "wrong-bool": "maybe",
    "lone-percent": "%",
    "bad-escape": "%zz%G0%",
    "plus-signs": "+++",
    "json": q('{"$gt": "", "__proto__": {"x": 1}}'),
    "regex": q(".*(a+)+$[\\"),
    "vs-slugs": q("alpha-vs-beta-vs-" * 300),
    "slug-list": q(",".join(["alpha", "beta"] * 500)),
    "real-values": "alpha",
    "valid-switch": "1",
}

# Whole query strings that are hostile by their shape rather than a value.
SHAPES = {
    "repeated": "&".join(f"q=v{i}" for i in range(900)),
    "thousands-of-params": "&".join(f"p{i}=v" for i in range(3_000)),
    "array-syntax": "q[]=a&q[]=b&group[$ne]=x&support[0]=built-in",
    "no-values": "&&&=&==&q&group&only_differences",
    "key-only-junk": q("{{}}") + "&%00=%00&%ED%A0%80=1",
    "huge-key": "k" * 100_000 + "=1",
    "mixed-filters": "group=features&group=operations&support=built-in&support=nonsense&only_contested=1"
    "&only_contested=0&only_differences=yes&only_differences=maybe",
}


def query_urls(name):
    base = url_for(name)
    params = PARAMS.get(name, GENERIC)
    for param in params:
        for value in PAYLOADS.values():
            yield f"{base}?{param}={value}"
    for shape in SHAPES.values():
        yield f"{base}?{shape}"


@pytest.mark.parametrize("name", NAMES)
def test_hostile_parameters(raw_client, name):
    assert check_all(raw_client, list(query_urls(name))) >= len(PAYLOADS)


def test_compare_form_subject_lists(raw_client):
    """The picker's subjects list: every payload as one subject, beside real ones, and as many."""
    base = reverse("kb:compare-form")
    urls = []
    for value in PAYLOADS.values():
        urls.append(f"{base}?subjects=alpha&subjects={value}")
        urls.append(f"{base}?subjects={value}&subjects=beta&group={value}")
        urls.append(f"{base}?subjects=alpha,{value}")
    urls.append(f"{base}?" + "&".join(f"subjects=s{i}" for i in range(999)))
    urls.append(f"{base}?subjects=" + "-vs-".join(["alpha", "beta"] * 400))
    check_all(raw_client, urls)


# Paths ------------------------------------------------------------------------------

SLUGS = {
    "overlong": "a" * 10_000,
    "very-overlong": "b" * 100_000,
    "vs-hundreds": "alpha-vs-" * 400 + "beta",
    "vs-of-unknowns": "-vs-".join(f"x{i}" for i in range(300)),
    "vs-only": "-vs-" * 200,
    "uppercase": "ALPHA",
    "nul": "alpha%00",
    "nul-only": "%00",
    "lone-surrogate": "%ED%A0%80",
    "invalid-utf8": "%FF%FE",
    "unicode": q("ålpha"),
    "combining": q("a\u0301" * 500),
    "rtl": q("\u202ealpha"),
    "astral": q("\U0001f600\U0001d54f"),
    "traversal": "..%2f..%2fetc%2fpasswd",
    "traversal-dots": "%2e%2e",
    "traversal-plain": "../../etc/passwd",
    "dot": ".",
    "dash": "-",
    "underscore": "_",
    "sql": q("alpha' OR '1'='1"),
    "template": q("{{7*7}}"),
    "huge-number": "9" * 400,
    "negative": "-1",
    "control": q("\x01\x1b[31m"),
    "crlf": "%0D%0ALocation:%20https://evil.example/",
    "old-slug": "alpha-classic",
}


def path_urls():
    templates = [
        "/subjects/{}/",
        "/dimensions/{}/",
        "/claims/{}/widgets/",
        "/claims/alpha/{}/",
        "/claims/alpha-classic/{}/",
        "/sources/{}/",
        "/snippets/{}/",
        "/feeds/subjects/{}/",
        "/compare/{}/",
        "/compare/{}.json",
        "/compare/{}.csv",
        "/compare/alpha-vs-{}/",
        "/compare/{}-vs-beta.json",
        "/compare/alpha-vs-{}.csv",
        "/{}",
        "/static/{}",
        "/admin/{}/",
    ]
    for template in templates:
        for slug in SLUGS.values():
            yield template.format(slug)


def test_hostile_paths(raw_client):
    check_all(raw_client, list(path_urls()))


def test_comparison_paths_that_almost_match(raw_client):
    """Long chains of ``-vs-`` that fail to match at the very end: no catastrophic backtracking."""
    urls = []
    for count in (10, 20, 25, 60, 400):
        chain = "alpha-vs-" * count + "beta"
        urls += [
            f"/compare/{chain}!/",
            f"/compare/{chain}/x",
            f"/compare/{chain}.jsonx",
            f"/compare/{chain}%00/",
            f"/compare/{chain}.csv/",
            f"/compare/{chain}-vs-/",
            f"/compare/-vs-{chain}/",
        ]
    check_all(raw_client, urls)


def test_comparison_spec_shapes(raw_client):
    """Repeats, wrong case, old slugs, empty parts and too many subjects: a redirect or a 404, never an error."""
    urls = []
    for spec in [
        "alpha-vs-alpha",
        "alpha-vs-ALPHA-vs-Beta",
        "alpha-classic-vs-beta",
        "alpha-vs--vs-beta",
        "alpha--vs--beta",
        "-vs-alpha-vs-beta-vs-",
        "alpha",
        "nothing-vs-nowhere",
        "alpha-vs-beta-vs-beta-widgets-vs-" + "-vs-".join(f"unknown{i}" for i in range(38)),
        "-vs-".join(["alpha", "beta", "beta-widgets"] * 20),
    ]:
        urls += [f"/compare/{spec}/", f"/compare/{spec}.json", f"/compare/{spec}.csv"]
        urls += [f"/compare/{spec}/?group={PAYLOADS['nul']}&q={PAYLOADS['lone-surrogate']}"]
    check_all(raw_client, urls)


# Other methods and headers -------------------------------------------------------------


def test_hostile_headers(raw_client):
    """Odd Host-independent headers on a few pages: cookies, conditional requests, accept headers."""
    bad = []
    headers_list = [
        {"HTTP_IF_NONE_MATCH": '"' + "x" * 10_000 + '"'},
        {"HTTP_IF_NONE_MATCH": "*"},
        {"HTTP_IF_MODIFIED_SINCE": "not a date"},
        {"HTTP_IF_MODIFIED_SINCE": "Sat, 01 Jan 9999 00:00:00 GMT"},
        {"HTTP_ACCEPT_LANGUAGE": "x" * 10_000},
        {"HTTP_ACCEPT_LANGUAGE": "../../etc/passwd;q=NaN"},
        {"HTTP_COOKIE": "sessionid=%00; csrftoken=" + "a" * 5_000},
        {"HTTP_COOKIE": "sessionid=" + "../" * 100},
        {"HTTP_REFERER": "javascript:alert(1)"},
        {"HTTP_X_FORWARDED_PROTO": "https\x00"},
        {"HTTP_USER_AGENT": "\x00" * 100},
    ]
    for name in ["home", "compare", "compare-json", "search", "subject"]:
        for headers in headers_list:
            response = raw_client.get(url_for(name), **headers)
            if response.status_code not in OK_STATUSES | {304}:
                bad.append(f"{response.status_code}: {name} {list(headers)}")
    assert not bad, bad


# Generated input (hypothesis) ----------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.sampled_from(list(PAYLOADS.values())),
    st.from_regex(r"[-a-z0-9]{1,20}(-vs-[-a-z0-9]{1,20}){0,12}", fullmatch=True),
)
param_names = st.sampled_from([*FILTERS, "subjects", "task", "subject", "preview", "page"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["compare", "compare-json", "compare-csv", "compare-form", "snippets", "search"]),
    pairs=st.lists(st.tuples(param_names, hostile_text), max_size=6),
)
def test_generated_parameters(raw_client, name, pairs):
    query = "&".join(f"{key}={value if value in PAYLOADS.values() else q(value)}" for key, value in pairs)
    status = fetch(raw_client, f"{url_for(name)}?{query}")
    assert status in OK_STATUSES, (name, query[:300])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    template=st.sampled_from(
        ["/subjects/{}/", "/compare/{}/", "/compare/{}.json", "/claims/alpha/{}/", "/snippets/{}/"]
    ),
    slug=st.text(min_size=1, max_size=200).map(lambda text: q(text)),
)
def test_generated_paths(raw_client, template, slug):
    status = fetch(raw_client, template.format(slug))
    assert status in OK_STATUSES, template.format(slug)[:300]


def _nested_repetition(parsed, inside=False):
    """Whether a parsed regex repeats something that itself repeats (the shape of catastrophic backtracking)."""
    import re._constants as c

    for op, arg in parsed:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            _, high, sub = arg
            repeats = high > 1
            if (inside and repeats) or _nested_repetition(sub, inside or repeats):
                return True
            continue
        children = [arg[-1]] if op is c.SUBPATTERN else arg[1] if op is c.BRANCH else []
        if any(_nested_repetition(child, inside) for child in children):
            return True
    return False


def test_no_url_pattern_has_nested_repetition():
    """A request path cannot make URL resolution backtrack exponentially (a one-request denial of service)."""
    import re._parser as sre_parse

    from django.urls import get_resolver

    def patterns(resolver, prefix=""):
        for entry in resolver.url_patterns:
            regex = prefix + entry.pattern.regex.pattern.lstrip("^")
            if hasattr(entry, "url_patterns"):
                yield from patterns(entry, regex)
            else:
                yield regex

    checked = list(patterns(get_resolver()))
    assert len(checked) > 15
    offenders = [regex for regex in checked if _nested_repetition(sre_parse.parse(regex))]
    assert offenders == []
    # and the check itself recognises the shape it guards against
    assert _nested_repetition(sre_parse.parse(r"[-a-z]+?(?:-vs-[-a-z]+?)*"))
