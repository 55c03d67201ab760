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
