"""Routing on a real PostgreSQL primary and its streaming hot standby (kb.ops.db_router).

Run by `make replica-test` (scripts/pg_replica_pair.sh makes the pair; tests/replica/conftest.py the
test database). Pausing the standby's WAL replay (pg_wal_replay_pause) makes a replica that lags as
far behind as a test needs: whatever a request reads from it then is visibly older than the primary.
"""

import logging
import re
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connections, router
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kb.knowledge import models as m
from kb.ops.db_router import PIN_COOKIE, PRIMARY, REPLICA

from .conftest import on_replica, pause_replay, replica_is_a_standby, resume_replay, standby_ctl, wait_for_replica

if not replica_is_a_standby():
    pytest.skip(
        "no streaming standby configured (the replica alias mirrors the primary): `make replica-test` runs "
        "this suite on a primary/standby pair of its own",
        allow_module_level=True,
    )

pytestmark = pytest.mark.replica

COMPARE = "/compare/alpha-vs-beta/"
# A page the page cache keeps (comparisons never are: any order of any subjects, kb.ops.page_cache).
SUBJECT = "/subjects/alpha/"
OLD_CELL = "Widget engine built in"  # alpha/widgets, published
DRAFT_CELL = "Fast enough to start"  # alpha/fast-start, a draft until an editor publishes it
EDITOR_PASSWORD = "a-long-editor-passphrase-42"


@contextmanager
def queries():
    """The SQL each server ran meanwhile."""
    with (
        CaptureQueriesContext(connections[PRIMARY]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as replica,
    ):
        captured = SimpleNamespace()
        yield captured
    captured.primary = [query["sql"] for query in primary.captured_queries]
    captured.replica = [query["sql"] for query in replica.captured_queries]


def reads_table(sqls, table):
    return any(re.search(rf"\b{table}\b", sql) for sql in sqls)


def replica_generation():
    return on_replica("SELECT coalesce(max(generation), 0) FROM kb_contentversion")


def test_the_pair_is_a_primary_and_its_streaming_hot_standby(pair):
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port(), current_database()")
        primary_recovery, primary_port, primary_db = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
        assert cursor.fetchone()[0] == 1
    assert primary_recovery is False
    assert on_replica("SELECT pg_is_in_recovery()") is True
    assert on_replica("SELECT inet_server_port()") != primary_port  # another server, not a second connection
    assert on_replica("SELECT current_database()") == primary_db  # the test database, streamed
    with pytest.raises(DatabaseError, match="read-only"):
        on_replica("CREATE TABLE written_on_a_standby (x int)")


def test_readers_public_pages_read_from_the_replica(client, replica_sample):
    with queries() as first:
        response = client.get(SUBJECT)
    assert response.status_code == 200
    assert response["X-Page-Cache"] == "miss"
    assert OLD_CELL in response.content.decode()
    assert reads_table(first.replica, "kb_claim"), "the subject page was read from the standby"
    # The primary only told the page cache the content generation.
    assert first.primary and all('"kb_contentversion"' in sql for sql in first.primary), first.primary
    with queries() as second:
        assert client.get(SUBJECT)["X-Page-Cache"] == "hit"
    assert (len(second.primary), len(second.replica)) == (1, 0)
    with queries() as search:
        assert client.get("/search/", {"q": "widget"}).status_code == 200
    assert reads_table(search.replica, "kb_searchdocument")
    assert not reads_table(search.primary, "kb_searchdocument")


def test_management_commands_read_and_write_only_the_primary(pair, fixture_content_dir, tmp_path):
    import shutil

    from django.apps import apps

    assert {router.db_for_read(model) for model in apps.get_models()} == {PRIMARY}  # outside readers' requests
    copy = tmp_path / "content"
    shutil.copytree(fixture_content_dir, copy)
    pause_replay()  # a standby far behind: a command reading from it would not find what it just wrote
    with CaptureQueriesContext(connections[REPLICA]) as replica:
        call_command("load_content", str(copy), verbosity=0)  # creates every row, then looks keys up in its transaction
        claims = copy / "claims" / "alpha.yaml"
        claims.write_text(claims.read_text().replace(OLD_CELL, "Reloaded from files"))
        call_command("load_content", str(copy), verbosity=0)  # updates by key what the first load made
        call_command("backup_db", str(tmp_path / "kb.dump"), verbosity=0)
    assert replica.captured_queries == []
    assert m.Claim.objects.get(subject__slug="alpha", key="widgets").cell == "Reloaded from files"
    assert (tmp_path / "kb.dump").read_bytes().startswith(b"PGDMP")
    assert on_replica("SELECT count(*) FROM kb_claim") == 0  # the standby really was behind all along
    resume_replay()
    wait_for_replica()
    assert on_replica("SELECT cell FROM kb_claim WHERE key = 'widgets' AND subject_id = "
                      "(SELECT id FROM kb_subject WHERE slug = 'alpha')") == "Reloaded from files"  # fmt: skip


def test_paused_replay_never_serves_a_stale_cached_page(client, replica_sample):
    """A write the standby has not replayed: readers get the primary's page, never an older cached one.

    The page cache keys pages by the content generation read from the primary. Before rendering a miss
    it asks the replica for its generation; when the replica has not replayed it, the primary renders.
    So while replay is paused: the page cached before the write (older generation) is not served, the
    new page shows the write, is rendered from the primary (the standby answers only the generation
    check), and what gets cached under the new generation is that fresh page. Once replay resumes,
    readers' pages come from the standby again.
    """
    assert client.get(SUBJECT)["X-Page-Cache"] == "miss"
    cached = client.get(SUBJECT)
    assert cached["X-Page-Cache"] == "hit"
    assert OLD_CELL in cached.content.decode()
    before = m.ContentVersion.objects.current()[0]

    pause_replay()
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    claim.cell = "Rewritten while the standby was paused"
    claim.save()  # committed on the primary, with the generation bump
    after = m.ContentVersion.objects.current()[0]
    assert after > before
    # The standby lags: it still has the old generation and the old cell.
    assert replica_generation() == before
    assert on_replica("SELECT cell FROM kb_claim WHERE id = %s", [claim.pk]) == OLD_CELL

    with queries() as during:
        response = client.get(SUBJECT)
    page = response.content.decode()
    assert response["X-Page-Cache"] == "miss"  # the page cached under the older generation is not served
    assert "Rewritten while the standby was paused" in page
    assert OLD_CELL not in page
    assert reads_table(during.primary, "kb_claim")
    assert during.replica and all('"kb_contentversion"' in sql for sql in during.replica), during.replica
    again = client.get(SUBJECT)
    assert again["X-Page-Cache"] == "hit"
    assert again.content == response.content  # what was cached is the primary's fresh page

    resume_replay()
    wait_for_replica()
    assert replica_generation() == after
    with queries() as caught_up:
        response = client.get("/subjects/beta/")  # a page not cached yet: rendered from the standby again
    assert response["X-Page-Cache"] == "miss"
    assert reads_table(caught_up.replica, "kb_subject")
    assert not reads_table(caught_up.primary, "kb_subject")


@pytest.fixture
def editor_name(pair, monkeypatch):
    monkeypatch.setenv("KB_EDITOR_PASSWORD", EDITOR_PASSWORD)
    call_command("create_editor", "edith", verbosity=0)
    return "edith"


def test_editors_read_their_own_writes_while_readers_read_the_lagging_standby(replica_sample, editor_name, settings):
    settings.KB_PAGE_CACHE_SECONDS = 0  # every page rendered: each response shows what its request read
    wait_for_replica()
    pause_replay()
    editor, reader = Client(), Client()

    response = editor.post(reverse("admin:login"), {"username": editor_name, "password": EDITOR_PASSWORD})
    assert response.status_code == 302, "signed in: the axes lockout and the new session on the primary"
    assert editor.get(reverse("admin:index")).status_code == 200  # the session written a moment ago
    draft = m.Claim.objects.get(subject__slug="alpha", key="fast-start")
    response = editor.post(reverse("admin:kb_claim_changelist"), {"action": "publish", "_selected_action": [draft.pk]})
    assert response.status_code == 302
    assert editor.get(reverse("admin:kb_claim_changelist")).status_code == 200

    assert DRAFT_CELL in editor.get(COMPARE).content.decode()  # the editor's own write
    assert DRAFT_CELL not in reader.get(COMPARE).content.decode()  # a reader's page: the standby, not replayed yet

    editor.post(reverse("admin:logout"))
    assert not editor.cookies[settings.SESSION_COOKIE_NAME].value  # signed out, no session any more
    assert editor.cookies[PIN_COOKIE].value  # but wrote a moment ago
    assert DRAFT_CELL in editor.get(COMPARE).content.decode()  # so still reads the primary

    resume_replay()
    wait_for_replica()
    assert DRAFT_CELL in reader.get(COMPARE).content.decode()


def test_the_login_lockout_counts_on_the_primary(pair, editor_name, settings):
    wait_for_replica()
    pause_replay()
    browser = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        browser.post(reverse("admin:login"), {"username": editor_name, "password": "wrong"})
    locked = browser.post(reverse("admin:login"), {"username": editor_name, "password": EDITOR_PASSWORD})
    assert locked.status_code == settings.AXES_HTTP_RESPONSE_CODE
    assert on_replica("SELECT count(*) FROM axes_accessattempt") == 0  # the standby never saw the attempts


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_a_stopped_standby_sends_readers_to_the_primary_with_a_warning(client, replica_sample, settings):
    assert client.get("/subjects/alpha/").status_code == 200  # a kept connection to the standby
    records = Records()
    logger = logging.getLogger("kb.db")
    logger.addHandler(records)
    standby_ctl("stop")
    try:
        with CaptureQueriesContext(connections[PRIMARY]) as primary:
            response = client.get(COMPARE)
            assert client.get("/subjects/beta/").status_code == 200
        assert response.status_code == 200
        assert OLD_CELL in response.content.decode()
        assert reads_table([query["sql"] for query in primary.captured_queries], "kb_claim")
        # One warning: the standby is tried again only after KB_REPLICA_RETRY_SECONDS.
        assert [record.levelno for record in records.records] == [logging.WARNING]
        assert "unreachable" in records.records[0].getMessage()
    finally:
        logger.removeHandler(records)
        standby_ctl("start")
    wait_for_replica()
