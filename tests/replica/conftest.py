"""The replica suite's database: the primary's test database, streamed to a real hot standby.

pytest-django would create a test database for every alias the tests name; a standby is read-only
and receives the primary's whole cluster by streaming replication. So this suite sets up the
primary's test database only (``django_db_setup`` below), points the replica alias at the same
name on the standby, and waits until the standby has replayed it. Tests write through ordinary
committed transactions on the primary (``pair``), never inside a test transaction (a standby
never sees uncommitted rows), and ``pair`` empties the primary after each test.
"""

import os
import subprocess
import time

import pytest
from django.core.management import call_command
from django.db import OperationalError, connections

from kb.ops.db_router import PRIMARY, REPLICA, forget_replica_failure

REPLAY_TIMEOUT_SECONDS = 60


def replica_is_a_standby():
    from django.conf import settings

    replica = settings.DATABASES.get(REPLICA, {})
    return bool(replica) and not replica.get("TEST", {}).get("MIRROR")


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    """The test database on the primary only; the standby receives it by streaming replication."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        old_config = setup_databases(verbosity=0, interactive=False, aliases={PRIMARY}, serialized_aliases=set())
        replica = connections[REPLICA]
        replica.close()
        replica.settings_dict["NAME"] = replica.settings_dict["TEST"]["NAME"]
        assert replica.settings_dict["NAME"] == connections[PRIMARY].settings_dict["NAME"]
        wait_for_replica()
    yield
    with django_db_blocker.unblock():
        replica.close()
        teardown_databases(old_config, verbosity=0)


def primary_lsn():
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        return cursor.fetchone()[0]


def wait_for_replica(timeout=REPLAY_TIMEOUT_SECONDS):
    """Until the standby has replayed everything the primary has written so far."""
    target = primary_lsn()
    deadline = time.monotonic() + timeout
    while True:
        try:
            with connections[REPLICA].cursor() as cursor:
                cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
                if cursor.fetchone()[0]:
                    return
        except OperationalError:  # the test database is not on the standby yet, or it is restarting
            connections[REPLICA].close()
        if time.monotonic() > deadline:
            raise AssertionError(f"the standby did not replay up to {target} within {timeout} s")
        time.sleep(0.05)


def on_replica(sql, params=()):
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def pause_replay():
    on_replica("SELECT pg_wal_replay_pause()")
    deadline = time.monotonic() + REPLAY_TIMEOUT_SECONDS
    while on_replica("SELECT pg_get_wal_replay_pause_state()") != "paused":
        assert time.monotonic() < deadline, "the standby did not pause its replay"
        time.sleep(0.02)


def resume_replay():
    on_replica("SELECT pg_wal_replay_resume()")


def standby_ctl(action):
    """Stop or start the standby itself (scripts/pg_replica_pair.sh names its control script)."""
    subprocess.run([os.environ["KB_REPLICA_CTL"], action], check=True, capture_output=True, timeout=120)


@pytest.fixture
def pair(django_db_setup, django_db_blocker):
    """Database access on the primary/standby pair; the primary is emptied and the standby caught up after."""
    with django_db_blocker.unblock():
        try:
            yield
        finally:
            connections[REPLICA].close()
            forget_replica_failure()
            resume_replay()
            call_command("flush", database=PRIMARY, interactive=False, verbosity=0)
            wait_for_replica()


@pytest.fixture
def replica_sample(pair, fixture_content_dir):
    """The sample knowledge base, loaded on the primary and replayed by the standby."""
    call_command("load_content", str(fixture_content_dir), verbosity=0)
    wait_for_replica()
