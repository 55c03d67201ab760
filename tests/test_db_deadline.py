"""kb.ops.db_deadline: a database call that outlasts its deadline is cut; a replica failure is retried.

On a real PostgreSQL pair, with the servers stopped by SIGSTOP, in tests/replica (`make replica-test`).
Here: the watchdog against a socket that never answers, and the retry on a mirrored replica alias.
"""

import socket
import time
from types import SimpleNamespace

import pytest
from django.db import OperationalError, router
from django.http import HttpResponse
from django.test import RequestFactory

from kb.knowledge import models as m
from kb.ops import db_deadline, db_router
from kb.ops.db_router import PRIMARY, REPLICA, ReplicaReadsMiddleware, forget_replica_failure
from kb.ops.readers import ReaderMiddleware
from tests.test_db_router import ON_BOTH, ROUTED


def test_a_call_that_outlasts_its_deadline_has_its_connection_cut():
    server_side, client_side = socket.socketpair()  # a "server" that never answers
    wrapper = SimpleNamespace(alias="default", vendor="postgresql", connection=client_side)
    db_deadline._ensure_watchdog()
    started = time.monotonic()
    try:
        with (
            pytest.raises(OperationalError, match=r"did not answer within 0.3 s"),
            db_deadline.database_call(wrapper, 0.3),
        ):
            assert client_side.recv(1) == b""  # waits until the watchdog shuts the socket down
        assert 0.3 <= time.monotonic() - started < 1.5
    finally:
        server_side.close()
        client_side.close()


def test_a_call_within_its_deadline_is_left_alone():
    server_side, client_side = socket.socketpair()
    wrapper = SimpleNamespace(alias="default", vendor="postgresql", connection=client_side)
    db_deadline._ensure_watchdog()
    try:
        with db_deadline.database_call(wrapper, 1):
            server_side.sendall(b"x")
            assert client_side.recv(1) == b"x"
        time.sleep(1.2)  # past the deadline, outside the call: nothing is cut
        server_side.sendall(b"y")
        assert client_side.recv(1) == b"y"
    finally:
        server_side.close()
        client_side.close()


def test_readers_get_the_short_deadline_and_editors_the_long_one(settings):
    settings.KB_DB_READ_DEADLINE, settings.KB_DB_WRITE_DEADLINE = 3, 30
    seen = []

    def view(request):
        seen.append(db_deadline.current().seconds)
        return HttpResponse("ok")

    middleware = ReaderMiddleware(db_deadline.DatabaseDeadlineMiddleware(view))  # the decision it reads
    factory = RequestFactory()
    middleware(factory.get("/subjects/"))
    middleware(factory.get("/admin/kb/claim/"))
    middleware(factory.post("/admin/login/"))
    assert seen == [3, 30, 30]
    assert db_deadline.current() is None  # management commands and shells: no deadline


@ROUTED
@ON_BOTH
def test_a_replica_that_fails_mid_request_is_retried_on_the_primary(caplog):
    forget_replica_failure()
    attempts = []

    def view(request):
        alias = router.db_for_read(m.Claim)
        attempts.append(alias)
        if alias == REPLICA:  # the standby dies while the page reads from it
            db_router.note_replica_failure("server closed the connection unexpectedly")
            return HttpResponse("Temporarily unavailable", status=503)
        return HttpResponse("from the primary")

    try:
        response = ReaderMiddleware(ReplicaReadsMiddleware(view))(RequestFactory().get("/compare/alpha-vs-beta/"))
        assert (response.status_code, response.content) == (200, b"from the primary")
        assert attempts == [REPLICA, PRIMARY]
        assert "unreachable" in caplog.text
        # Later readers read the primary until the replica is tried again.
        ReaderMiddleware(ReplicaReadsMiddleware(view))(RequestFactory().get("/subjects/"))
        assert attempts == [REPLICA, PRIMARY, PRIMARY]
    finally:
        forget_replica_failure()
