"""Which database each query goes to (kb.ops.db_router), on a replica alias that mirrors the primary.

The routing rules on a real streaming standby, lag and outage included, are tested in tests/replica
(`make replica-test`). Here the replica alias is a second connection to the primary's database, so
these tests run everywhere (SQLite too) and check the decisions and that nothing breaks.
"""

import logging

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connections, router
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

from kb.knowledge import models as m
from kb.ops.db_router import (
    PIN_COOKIE,
    PRIMARY,
    REPLICA,
    PrimaryReplicaRouter,
    ReplicaReadsMiddleware,
    forget_replica_failure,
    reads_from,
)
from kb.ops.readers import ReaderMiddleware

ROUTED = override_settings(DATABASE_ROUTERS=["kb.ops.db_router.PrimaryReplicaRouter"])
# Committed data (transaction=True): the replica alias is a second connection to the same database,
# as a real replica is; serialized_rollback restores what migrations created for later tests.
ON_BOTH = pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "replica"])


def test_router_decisions():
    from axes.models import AccessAttempt
    from django.contrib.admin.models import LogEntry

    r = PrimaryReplicaRouter()
    assert r.db_for_read(m.Claim) == PRIMARY  # outside a reader's request: commands, shells, workers
    with reads_from(REPLICA):
        assert r.db_for_read(m.Claim) == REPLICA
        assert r.db_for_read(m.ContentVersion) == REPLICA
        # Editors' and the lockout's state never comes from a replica that may lag.
        assert {r.db_for_read(model) for model in (Session, User, AccessAttempt, LogEntry)} == {PRIMARY}
        assert r.db_for_write(m.Claim) == PRIMARY
    assert r.db_for_read(m.Claim) == PRIMARY
    assert r.allow_migrate("default", "kb") is True
    assert r.allow_migrate("replica", "kb") is False


def reads_during(request):
    """The alias the middleware lets `request` read Claims from, and its response."""
    seen = []

    def view(request):
        seen.append(router.db_for_read(m.Claim))
        return HttpResponse("ok")

    response = ReaderMiddleware(ReplicaReadsMiddleware(view))(request)
    return seen[0], response


@ROUTED
@ON_BOTH
def test_middleware_sends_only_readers_to_the_replica(settings):
    factory = RequestFactory()
    assert reads_during(factory.get("/compare/alpha-vs-beta/"))[0] == REPLICA
    assert reads_during(factory.head("/subjects/"))[0] == REPLICA
    signed_in = factory.get("/subjects/")
    signed_in.COOKIES[settings.SESSION_COOKIE_NAME] = "a-session"
    assert reads_during(signed_in)[0] == PRIMARY
    wrote_lately = factory.get("/subjects/")
    wrote_lately.COOKIES[PIN_COOKIE] = "1"
    assert reads_during(wrote_lately)[0] == PRIMARY
    assert reads_during(factory.get("/admin/kb/claim/"))[0] == PRIMARY
    assert reads_during(factory.get("/subjects/", {"preview": "1"}))[0] == PRIMARY
    alias, response = reads_during(factory.post("/admin/login/"))
    assert alias == PRIMARY
    assert response.cookies[PIN_COOKIE]["max-age"] == settings.KB_REPLICA_PIN_SECONDS
    assert "httponly" in response.cookies[PIN_COOKIE].output().lower()
    assert PIN_COOKIE not in reads_during(factory.get("/subjects/"))[1].cookies
    assert router.db_for_read(m.Claim) == PRIMARY  # the request's choice ends with the request


@pytest.mark.django_db
def test_middleware_does_nothing_without_a_router():
    assert reads_during(RequestFactory().get("/subjects/"))[0] == PRIMARY


@ROUTED
@ON_BOTH
def test_reads_hit_the_replica_and_writes_the_primary(client, sample_kb):
    with (
        CaptureQueriesContext(connections["replica"]) as replica,
        CaptureQueriesContext(connections["default"]) as primary,
    ):
        response = client.get("/compare/alpha-vs-beta/")
        assert response.status_code == 200
        assert "Widget engine built in" in response.content.decode()  # the mirror sees the primary's rows
        subject = m.Subject.objects.get(slug="alpha")
        subject.name = "Alpha renamed"
        subject.save()
    reads = [q["sql"] for q in replica.captured_queries]
    writes = [q["sql"] for q in primary.captured_queries]
    assert any("kb_subjectcolumn" in sql for sql in reads), "the comparison was read from the replica"
    assert any(sql.startswith("UPDATE") and "kb_subject" in sql for sql in writes), "the save went to the primary"
    assert not any(sql.startswith(("UPDATE", "INSERT", "DELETE")) for sql in reads)
    # The page cache decides freshness from the primary's content generation.
    assert any("kb_contentversion" in sql for sql in writes)


@ROUTED
@ON_BOTH
def test_load_content_reads_its_own_writes_with_a_replica_configured(fixture_content_dir):
    # Before: its key lookups went to the replica, which could not see its transaction's rows (on SQLite,
    # "database table is locked").
    with CaptureQueriesContext(connections["replica"]) as replica:
        call_command("load_content", str(fixture_content_dir), verbosity=0)
        call_command("load_content", str(fixture_content_dir), verbosity=0)
    assert replica.captured_queries == []
    assert m.Claim.objects.filter(subject__slug="alpha").count() == 3


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def unreachable_replica(monkeypatch):
    """A replica alias that cannot connect (a real stopped standby: tests/replica)."""
    from django.db import OperationalError

    def refuse():
        raise OperationalError('connection to server at "127.0.0.1", port 55433 failed: Connection refused')

    replica = connections["replica"]
    monkeypatch.setattr(replica, "is_usable", lambda: False)
    monkeypatch.setattr(replica, "ensure_connection", refuse)
    forget_replica_failure()
    yield
    forget_replica_failure()


@ROUTED
@ON_BOTH
def test_an_unreachable_replica_sends_readers_to_the_primary_with_one_warning(client, sample_kb, unreachable_replica):
    records = Records()
    logger = logging.getLogger("kb.db")
    logger.addHandler(records)
    try:
        with CaptureQueriesContext(connections["default"]) as primary:
            response = client.get("/compare/alpha-vs-beta/")
            assert client.get("/subjects/alpha/").status_code == 200
    finally:
        logger.removeHandler(records)
    assert response.status_code == 200
    assert "Widget engine built in" in response.content.decode()
    assert any("kb_claim" in query["sql"] for query in primary.captured_queries)
    # One warning: the replica is tried again only after KB_REPLICA_RETRY_SECONDS.
    assert len(records.records) == 1
    assert "unreachable" in records.records[0].getMessage()
