"""The 500 page stands alone: no database, no request, no context processors."""

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from tests.test_pages import PageChecker


def boom(request):
    raise RuntimeError("boom")


# This module doubles as a URL conf: the real site's URLs plus one view that fails.
urlpatterns = [path("boom/", boom), path("", include("kb.urls"))]


def test_500_template_renders_without_touching_the_database(db):
    with CaptureQueriesContext(connection) as queries:
        html = render_to_string("500.html")
    assert len(queries) == 0
    assert "<h1>Something went wrong</h1>" in html


def test_500_template_renders_with_database_access_blocked():
    # No `db` fixture: pytest-django makes any database access here fail the test.
    html = render_to_string("500.html")
    checker = PageChecker()
    checker.feed(html)
    assert checker.h1_count == 1
    assert checker.inline_scripts == 0 and not checker.style_attributes and checker.style_elements == 0


def test_500_template_renders_with_a_broken_cursor(db, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise RuntimeError("the database is down")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", broken_cursor)
        assert "Something went wrong" in render_to_string("500.html")


@pytest.mark.urls("tests.test_pages_errors")
def test_an_error_in_a_view_shows_the_500_page(client, db):
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>Something went wrong</h1>" in html
    assert '<link rel="stylesheet" href="/static/css/site.css">' in html


def test_500_page_stylesheet_exists_unhashed(client):
    from django.conf import settings

    assert (settings.STATIC_ROOT / "css" / "site.css").exists()


# Issue 21, item 8: `make run` (DJANGO_DEBUG=1) shows the site's own 404, for unknown content and unknown addresses.
@pytest.mark.parametrize("path", ["/subjects/flaskk/", "/claims/flask/no-such-claim/", "/no/such/page/"])
def test_debug_404_is_the_sites_own_page(client, db, settings, path):
    settings.DEBUG = True
    response = client.get(path)
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html
    assert "technical_404" not in html and "Django tried these URL patterns" not in html
    assert "<title>Page not found" in html


def test_debug_technical_404_can_be_asked_for(client, db, settings):
    settings.DEBUG = True
    settings.KB_DEBUG_TECHNICAL_404 = True
    response = client.get("/subjects/flaskk/")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" not in response.content.decode()


def test_debug_unknown_comparison_and_subject_look_alike(client, db, settings):
    settings.DEBUG = True
    subject = client.get("/subjects/flaskk/").content.decode()
    comparison = client.get("/compare/flaskk-vs-djangoo/").content.decode()
    assert 'rel="stylesheet"' in subject and 'rel="stylesheet"' in comparison
    assert "<h1>" in subject and "<h1>" in comparison
