"""Public responses compressed when accepted, byte for byte the same once decompressed; never ones with secrets."""

import gzip

import brotli
import pytest
from django.test import override_settings

from kb.ops.compression import accepted_encoding

pytestmark = pytest.mark.django_db

COMPARE = "/compare/alpha-vs-beta/"
PAGE = "/subjects/alpha/"  # a page the page cache keeps (comparisons are built every time)
DECODERS = {"gzip": gzip.decompress, "br": brotli.decompress}


def get(client, url, encoding=None, **headers):
    if encoding:
        headers["Accept-Encoding"] = encoding
    return client.get(url, headers=headers)


@pytest.mark.parametrize("encoding", ["gzip", "br"])
@pytest.mark.parametrize(
    "url",
    [COMPARE, "/", "/compare/alpha-vs-beta.json", "/compare/alpha-vs-beta.csv", "/sitemap.xml", "/search/?q=widgets"],
)
def test_compressed_responses_decompress_to_the_same_bytes(client, sample_kb, url, encoding):
    plain = get(client, url)
    compressed = get(client, url, encoding)
    assert plain.status_code == compressed.status_code == 200
    assert "Content-Encoding" not in plain
    assert compressed["Content-Encoding"] == encoding
    assert len(compressed.content) < len(plain.content)
    assert int(compressed["Content-Length"]) == len(compressed.content)
    assert DECODERS[encoding](compressed.content) == plain.content
    assert "Accept-Encoding" in plain["Vary"] and "Accept-Encoding" in compressed["Vary"]


@pytest.mark.parametrize("seconds", [3600, 0])
def test_cached_and_uncached_pages_compress_alike(client, sample_kb, seconds):
    with override_settings(KB_PAGE_CACHE_SECONDS=seconds):
        plain = get(client, PAGE)
        first = get(client, PAGE, "gzip")
        second = get(client, PAGE, "gzip")  # a page-cache hit when the cache is on
    assert gzip.decompress(first.content) == gzip.decompress(second.content) == plain.content
    if seconds:
        assert second["X-Page-Cache"] == "hit"


def test_compressed_etag_is_weak_and_still_gives_304(client, sample_kb):
    plain = get(client, PAGE)
    compressed = get(client, PAGE, "gzip")
    assert plain["ETag"].startswith('"')
    assert compressed["ETag"] == "W/" + plain["ETag"]
    revalidated = get(client, PAGE, "gzip", If_None_Match=compressed["ETag"])
    assert revalidated.status_code == 304
    assert revalidated.content == b""


def test_no_compression_for_admin_or_signed_in_people(admin_client, sample_kb):
    assert "Content-Encoding" not in get(admin_client, "/admin/", "gzip, br")
    assert "Content-Encoding" not in get(admin_client, COMPARE, "gzip, br")  # a session cookie
    assert "Content-Encoding" not in get(admin_client, "/", "gzip, br")


def _through_middleware(rf, view):
    from kb.ops.compression import CompressionMiddleware
    from kb.ops.readers import ReaderMiddleware

    return ReaderMiddleware(CompressionMiddleware(view))(rf.get("/", HTTP_ACCEPT_ENCODING="gzip"))


def test_no_compression_for_a_page_with_a_csrf_token(rf):
    from django.http import HttpResponse
    from django.middleware.csrf import get_token

    def view(request):
        return HttpResponse(f"<form>{get_token(request)}</form>" + "x" * 5000)

    assert "Content-Encoding" not in _through_middleware(rf, view)


def test_no_compression_when_a_cookie_is_set(rf):
    from django.http import HttpResponse

    def view(request):
        response = HttpResponse("x" * 5000)
        response.set_cookie("anything", "secret")
        return response

    assert "Content-Encoding" not in _through_middleware(rf, view)


def test_the_same_public_response_is_compressed(rf):
    from django.http import HttpResponse

    response = _through_middleware(rf, lambda request: HttpResponse("x" * 5000))
    assert response["Content-Encoding"] == "gzip"


def test_compressed_bodies_are_not_kept_in_the_cache(client, sample_kb):
    from django.core.cache import caches

    get(client, PAGE)
    entries = len(caches["default"]._cache)
    for encoding in ("gzip", "br", "gzip", "br"):
        assert get(client, PAGE, encoding)["Content-Encoding"] == encoding
    assert len(caches["default"]._cache) == entries  # the plain page only, compressed per request


def test_small_and_binary_responses_are_left_alone(rf):
    from django.http import HttpResponse

    assert "Content-Encoding" not in _through_middleware(rf, lambda request: HttpResponse("x" * 100))
    png = _through_middleware(rf, lambda request: HttpResponse(b"\0" * 5000, content_type="image/png"))
    assert "Content-Encoding" not in png


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ("identity", None),
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("br;q=0.5, gzip", "gzip"),
        ("gzip;q=0, br;q=0", None),
        ("*", "br"),
        ("br;q=0, *", "gzip"),
        ("GZIP;q=bogus, br;q=0", None),
    ],
)
def test_accept_encoding_is_parsed_with_weights(header, expected):
    assert accepted_encoding(header) == expected
