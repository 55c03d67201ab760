"""Readers' queries go to the replica, every write to the primary (DATABASE_REPLICA_URL)."""

import pytest
from django.db import connections, router
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from kb import models as m
from kb.db_router import PrimaryReplicaRouter

ROUTED = override_settings(DATABASE_ROUTERS=["kb.db_router.PrimaryReplicaRouter"])


def test_router_decisions():
    r = PrimaryReplicaRouter()
    assert r.db_for_read(m.Claim) == "replica"
    assert r.db_for_write(m.Claim) == "default"
    assert r.allow_migrate("default", "kb") is True
    assert r.allow_migrate("replica", "kb") is False


@ROUTED
# Committed data (transaction=True): the replica alias is a second connection to the same database,
# as a real replica is; serialized_rollback restores what migrations created for later tests.
@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "replica"])
def test_reads_hit_the_replica_and_writes_the_primary(client, sample_kb):
    assert router.db_for_read(m.Claim) == "replica"
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
    assert any("kb_claim" in sql for sql in reads), "the comparison was read from the replica"
    assert any(sql.startswith("UPDATE") and "kb_subject" in sql for sql in writes), "the save went to the primary"
    assert not any(sql.startswith(("UPDATE", "INSERT", "DELETE")) for sql in reads)
    # The page cache decides freshness from the primary's content generation.
    assert any("kb_contentversion" in sql for sql in writes)
