"""Faults: an unreachable database gives a styled 503 with Retry-After, and the site recovers."""

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", refuse)
    monkeypatch.setattr(CursorWrapper, "executemany", refuse)
    return monkeypatch


@pytest.fixture
def client(client):
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("url", ["/", "/subjects/", "/search/?q=widgets", "/compare/alpha-vs-beta/"])
def test_database_down_gives_503_with_retry_after(sample_kb, client, database_down, url):
    response = client.get(url)
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert "Temporarily unavailable" in body
    assert body.count("<h1>") == 1
    assert "Traceback" not in body


def test_site_recovers_when_database_returns(sample_kb, client, database_down):
    assert client.get(reverse("kb:home")).status_code == 503
    database_down.undo()
    assert client.get(reverse("kb:home")).status_code == 200


def test_other_errors_are_a_plain_500_without_database():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kb.site.views.errors import server_error

    with CaptureQueriesContext(connection) as queries:
        try:
            raise ValueError("a bug, not an outage")
        except ValueError:
            response = server_error(None)
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert "Retry-After" not in response
    assert len(queries) == 0
