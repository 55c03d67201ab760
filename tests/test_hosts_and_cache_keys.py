"""Host validation before the page cache, absolute URLs from KB_SITE_URL, cache keys that mean one page, methods."""

import re

import pytest
from django.core.cache import caches
from django.test import override_settings

pytestmark = pytest.mark.django_db

SITE = override_settings(ALLOWED_HOSTS=["localhost", "127.0.0.1"], KB_SITE_URL="http://127.0.0.1:8000")


def canonical(response):
    return re.search(r'<link rel="canonical" href="([^"]+)"', response.content.decode()).group(1)


def og_url(response):
    return re.search(r'<meta property="og:url" content="([^"]+)"', response.content.decode()).group(1)


@SITE
def test_the_host_header_poisoning_repro_fails(client, sample_kb):
    url = "/subjects/alpha/?poison=3"
    for _ in range(20):
        assert client.get(url, HTTP_HOST="127.0.0.1:6666").status_code == 400
    normal = client.get(url, HTTP_HOST="127.0.0.1:8000")
    assert normal.status_code == 200
    assert canonical(normal) == og_url(normal) == "http://127.0.0.1:8000/subjects/alpha/"


@SITE
def test_absolute_urls_come_from_the_site_origin_not_the_host(client, sample_kb):
    # An allowed host still cannot choose the links: pages, the sitemap, feeds and exports.
    page = client.get("/subjects/alpha/", HTTP_HOST="localhost")
    assert canonical(page) == "http://127.0.0.1:8000/subjects/alpha/"
    index = client.get("/sitemap.xml", HTTP_HOST="localhost").content.decode()
    assert "http://127.0.0.1:8000/sitemap-subjects.xml" in index and "localhost" not in index
    sitemap = client.get("/sitemap-subjects.xml", HTTP_HOST="localhost").content.decode()
    assert "http://127.0.0.1:8000/subjects/alpha/" in sitemap and "localhost" not in sitemap
    feed = client.get("/feeds/claims/", HTTP_HOST="localhost").content.decode()
    assert "http://127.0.0.1:8000/claims/alpha/widgets/" in feed and "localhost" not in feed
    export = client.get("/compare/alpha-vs-beta.json", HTTP_HOST="localhost").content.decode()
    assert "http://127.0.0.1:8000/" in export and "localhost" not in export
    robots = client.get("/robots.txt", HTTP_HOST="localhost").content.decode()
    assert "Sitemap: http://127.0.0.1:8000/sitemap.xml" in robots


@SITE
def test_the_sitemap_cannot_be_poisoned_through_a_port(client, sample_kb):
    for _ in range(20):
        assert client.get("/sitemap.xml", HTTP_HOST="127.0.0.1:6666").status_code == 400
    body = client.get("/sitemap-subjects.xml", HTTP_HOST="127.0.0.1:8000").content.decode()
    assert ":6666" not in body and "http://127.0.0.1:8000/subjects/alpha/" in body


@SITE
def test_a_cached_page_answers_400_to_a_disallowed_host(client, sample_kb):
    client.get("/subjects/alpha/", HTTP_HOST="127.0.0.1:8000")
    assert client.get("/subjects/alpha/", HTTP_HOST="127.0.0.1:8000")["X-Page-Cache"] == "hit"
    for host in ("evil.example", "evil.example:8000", "127.0.0.1:6666", "localhost:1"):
        response = client.get("/subjects/alpha/", HTTP_HOST=host)
        assert response.status_code == 400, host
        assert "X-Page-Cache" not in response


@override_settings(ALLOWED_HOSTS=["example.org"], KB_ALLOWED_HOST_PORTS={"example.org:8443"})
def test_ports_named_in_allowed_hosts_are_served(client, sample_kb):
    assert client.get("/", HTTP_HOST="example.org:8443").status_code == 200
    assert client.get("/", HTTP_HOST="example.org:443").status_code == 200
    assert client.get("/", HTTP_HOST="example.org").status_code == 200
    assert client.get("/", HTTP_HOST="example.org:8444").status_code == 400


def test_the_cache_key_has_the_scheme_and_host(client, sample_kb, settings):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
    assert client.get("/subjects/alpha/", HTTP_HOST="localhost")["X-Page-Cache"] == "miss"
    assert client.get("/subjects/alpha/", HTTP_HOST="127.0.0.1")["X-Page-Cache"] == "miss"
    assert client.get("/subjects/alpha/", HTTP_HOST="127.0.0.1", secure=True)["X-Page-Cache"] == "miss"
    assert client.get("/subjects/alpha/", HTTP_HOST="localhost")["X-Page-Cache"] == "hit"


def test_junk_parameters_make_no_new_cache_entries(client, sample_kb):
    cache = caches["default"]
    assert client.get("/subjects/alpha/")["X-Page-Cache"] == "miss"
    entries = len(cache._cache)
    for number in range(200):
        response = client.get(f"/subjects/alpha/?x{number}={number}&utm_source={number}")
        assert response.status_code == 200
        assert "X-Page-Cache" not in response, number  # built, not cached
    assert len(cache._cache) == entries
    assert client.get("/subjects/alpha/")["X-Page-Cache"] == "hit"


def test_the_view_sees_only_what_the_key_holds(client, sample_kb):
    # A filter the comparison understands still works through the cache...
    filtered = client.get("/compare/alpha-vs-beta/?only_differences=1").content.decode()
    assert filtered != client.get("/compare/alpha-vs-beta/").content.decode()
    # ...and a parameter it does not understand changes nothing on the page.
    plain = client.get("/search/?q=alpha").content
    assert client.get("/search/?q=alpha&zzz=<b>").content == plain


@override_settings(KB_REQUIRE_HOST_HEADER=True)
def test_a_request_without_host_is_400(client, sample_kb):
    assert client.get("/").status_code == 400  # the test client sends no Host header of its own
    assert client.get("/", HTTP_HOST="testserver").status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options", "trace"])
@pytest.mark.parametrize("path", ["/", "/subjects/alpha/", "/compare/alpha-vs-beta/", "/feeds/claims/", "/search/"])
def test_public_pages_answer_only_get_and_head(client, sample_kb, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert b"<html" not in response.content.lower()


def test_head_and_get_still_work_and_the_admin_keeps_post(client, sample_kb):
    assert client.head("/subjects/alpha/").status_code == 200
    assert client.get("/subjects/alpha/").status_code == 200
    assert client.post("/admin/login/", {"username": "x", "password": "y"}).status_code == 200  # the form again
