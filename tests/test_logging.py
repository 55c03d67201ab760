"""Logs an operator can use: one JSON line per record on standard error, tracebacks of 500s included."""

import io
import itertools
import json
import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from django.urls import path

import kb.urls


def boom(request):
    return 1 / 0


urlpatterns = [path("boom/", boom), *kb.urls.urlpatterns]


@pytest.fixture
def log_lines():
    """What the configured stderr handler writes (the real handler and formatter, another stream)."""
    handler = next(h for h in logging.getLogger("django.request").handlers if h.get_name() == "stderr")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    handler.setStream(previous)


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_500_leaves_its_traceback_in_the_log(client, db, log_lines):
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    (record,) = [line for line in log_lines() if line["logger"] == "django.request"]
    assert record["level"] == "ERROR"
    assert (record["method"], record["path"], record["status"]) == ("GET", "/boom/", 500)
    assert "ZeroDivisionError" in record["traceback"]
    assert "in boom" in record["traceback"]


def test_records_are_one_line_each(log_lines):
    logging.getLogger("kb.content").warning("two\nlines", extra={"claims_created": 3})
    (record,) = log_lines()
    assert record["message"] == "two\nlines"
    assert (record["logger"], record["claims_created"]) == ("kb.content", 3)


def test_slow_requests_are_logged(client, db, log_lines, settings, monkeypatch):
    settings.SLOW_REQUEST_MS = 1000
    clock = itertools.count(start=100.0, step=2.5)  # every request "takes" 2.5 seconds
    # The clock of kb.ops.logs only (the time module's own monotonic is everyone's: database deadlines too).
    monkeypatch.setattr("kb.ops.logs.time", SimpleNamespace(monotonic=lambda: next(clock)))
    client.get("/robots.txt")
    (record,) = [line for line in log_lines() if line["logger"] == "kb.requests"]
    assert record["level"] == "WARNING"
    assert (record["path"], record["status"], record["duration_ms"]) == ("/robots.txt", 200, 2500)
    settings.SLOW_REQUEST_MS = 0  # off
    client.get("/robots.txt")
    assert len([line for line in log_lines() if line["logger"] == "kb.requests"]) == 1


def test_the_level_comes_from_the_environment():
    env = {**os.environ, "DJANGO_SECRET_KEY": "x", "DJANGO_LOG_LEVEL": "warning"}
    code = "from kb import settings; print(settings.LOGGING['loggers']['kb']['level'])"
    output = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=django_settings.BASE_DIR, capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "WARNING"


def test_load_content_and_a_stored_capture_log_their_summaries(db, log_lines, fixture_content_dir):
    from kb.content.loader import load_content
    from kb.evidence.captures import Extracted, normalise_capture, store_capture
    from kb.knowledge import models as m

    load_content(fixture_content_dir)
    source = m.Source.objects.get(slug="sample")
    text = "\n".join(source.excerpts.values_list("text", flat=True))
    store_capture(source, Extracted(normalise_capture(text), origin="sample.txt", extractor="plain text"))
    messages = [record["message"] for record in log_lines()]
    assert any(message.startswith("load_content ") and "claims: " in message for message in messages), messages
    assert any(message.startswith("capture of sample stored: ") for message in messages), messages
