"""Bad input from a client gets a clear 4xx, never a 500: admin history ids, Host headers."""

import json
import logging

import pytest
from django.urls import reverse

from kb.knowledge import models as m
from kb.site.site_url import HOST_IN_LOG_CHARS


@pytest.mark.parametrize("object_id", ["abc", "1.5", "-", "999999"])
def test_the_history_of_a_record_that_is_not_there_is_404(editor_client, sample_kb, object_id):
    response = editor_client.get(f"/admin/kb/source/{object_id}/history/")
    assert response.status_code == 404


def test_a_history_version_that_is_not_a_number_is_404(editor_client, sample_kb):
    source = m.Source.objects.first()
    assert editor_client.get(reverse("admin:kb_source_history", args=[source.pk])).status_code == 200
    assert editor_client.get(f"/admin/kb/source/{source.pk}/history/abc/").status_code == 404
    assert editor_client.get("/admin/kb/source/abc/history/1/").status_code == 404


def test_a_bad_host_is_a_short_warning(client, sample_kb, caplog):
    host = "evil.example." + "a" * 5000
    with caplog.at_level(logging.INFO):
        response = client.get("/", HTTP_HOST=host)
    assert response.status_code == 400
    records = [r for r in caplog.records if host[:50] in r.getMessage()]
    assert [r.levelname for r in records] == ["WARNING"]
    assert len(records[0].getMessage()) < HOST_IN_LOG_CHARS + 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_bad_host_line_on_standard_error_is_bounded(client, sample_kb, capsys, settings):
    from kb.ops.logs import OneLineFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter())
    logger = logging.getLogger("kb.hosts")
    logger.addHandler(handler)
    try:
        assert client.get("/", HTTP_HOST="127.0.0.1:" + "9" * 5000).status_code == 400
    finally:
        logger.removeHandler(handler)
    [line] = [line for line in capsys.readouterr().err.splitlines() if "kb.hosts" in line]
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert len(line) < 600
