"""Deadlines for the database (kb.ops.db_deadline) on a real PostgreSQL pair whose servers are stopped with SIGSTOP.

A stopped server keeps its TCP connections open and the kernel keeps acknowledging them, so only a
deadline on the client ends a request waiting for it. These tests stop every process of one server
(its postmaster and all its children: backends, walsender or walreceiver) and send SIGCONT after.
"""

import os
import signal
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from django.db import connections

from kb.ops import db_router
from kb.ops.db_router import PRIMARY, REPLICA

from .conftest import replica_is_a_standby, wait_for_replica

if not replica_is_a_standby():
    pytest.skip("`make replica-test` runs this suite on a primary/standby pair of its own", allow_module_level=True)

pytestmark = pytest.mark.replica

PAGE = "/subjects/alpha/"


def server_processes(alias):
    """The postmaster of the server ``alias`` is connected to, and all its children."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    children = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _parent(int(pid)) == postmaster]
    return [postmaster, *children]


def _parent(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def signal_all(pids, signum):
    for pid in pids:
        with suppress(ProcessLookupError):  # a short-lived child (an autovacuum worker) already gone
            os.kill(pid, signum)


@contextmanager
def stopped(pids):
    try:
        signal_all(pids, signal.SIGSTOP)
        yield
    finally:
        signal_all(pids, signal.SIGCONT)


@pytest.fixture
def client(client):
    client.raise_request_exception = False
    return client


def test_a_stopped_primary_gives_a_503_within_the_deadline(client, replica_sample, settings):
    settings.KB_DB_READ_DEADLINE = 2
    assert client.get(PAGE).status_code == 200  # a kept connection to the primary, as in production
    processes = server_processes(PRIMARY)
    with stopped(processes):
        started = time.monotonic()
        response = client.get(PAGE)
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert elapsed < settings.KB_DB_READ_DEADLINE + 1.5, elapsed
    # The primary back: the site recovers by itself.
    assert client.get(PAGE).status_code == 200


def test_a_stopped_primary_gives_the_admin_a_503_too(client, replica_sample, settings):
    from django.contrib.auth.models import User

    settings.KB_DB_WRITE_DEADLINE = 2
    client.force_login(User.objects.create_superuser("boss", "boss@example.org", "a-long-passphrase-42"))
    assert client.get("/admin/kb/claim/").status_code == 200
    with stopped(server_processes(PRIMARY)):
        started = time.monotonic()
        response = client.get("/admin/kb/claim/")
        elapsed = time.monotonic() - started
    assert response.status_code == 503 and elapsed < 3.5, (response.status_code, elapsed)
    assert client.get("/admin/kb/claim/").status_code == 200  # and back by itself


def test_a_standby_that_stops_mid_request_is_retried_on_the_primary(client, replica_sample, monkeypatch, settings):
    assert client.get(PAGE).status_code == 200  # a kept connection to the standby
    processes = server_processes(REPLICA)
    real = db_router.replica_available

    def available_then_stopped():  # the standby answers the check, then stops before the page's queries
        if not real():
            return False
        signal_all(processes, signal.SIGSTOP)
        return True

    monkeypatch.setattr(db_router, "replica_available", available_then_stopped)
    try:
        started = time.monotonic()
        response = client.get(PAGE)
        elapsed = time.monotonic() - started
    finally:
        signal_all(processes, signal.SIGCONT)
        db_router.forget_replica_failure()
    assert response.status_code == 200
    assert "Alpha" in response.content.decode()
    assert elapsed < settings.KB_REPLICA_CONNECT_TIMEOUT + 2, elapsed
    connections[REPLICA].close()
    wait_for_replica()
