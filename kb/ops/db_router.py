"""Where queries go when DATABASE_REPLICA_URL names a streaming replica of the primary.

Every write goes to the primary ("default"), and so does every read unless a reader's request
says otherwise: ``ReplicaReadsMiddleware`` lets a request read from the replica only when it is
a reader's (kb.ops.readers: a GET or HEAD of a public page by someone with no session, no editor
signed in, who has not written anything in the last ``KB_REPLICA_PIN_SECONDS``: a cookie set after
every POST, PUT ...).
So the admin, sessions, the axes lockout, management commands (load_content and its own key
lookups inside its transaction, capture imports, backups), and anything else outside a reader's
request read what they and others just wrote; an editor who saves, or signs out, keeps reading
the primary for a while, so they see their own change.

The page cache reads the content generation from the primary (kb.ops.page_cache), renders a miss
from the replica only once the replica has replayed that generation, and caches what the replica
rendered only if it still had that generation afterwards: a lagging replica never gets a stale
page into the cache, and readers of a lagging replica get the primary's content.

If the replica cannot be reached, readers' requests read from the primary, a warning is logged
("kb.db"), and the replica is tried again ``KB_REPLICA_RETRY_SECONDS`` later. If it fails while a
request is reading from it (it stopped, or did not answer within its deadline: kb.ops.db_deadline
notes the failure), the request is served again, from the primary.
"""

import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, connections, router

from kb.knowledge.models import ContentVersion
from kb.ops.readers import PIN_COOKIE, READER_METHODS, is_reader

PRIMARY = "default"
REPLICA = "replica"
ROUTER = "kb.ops.db_router.PrimaryReplicaRouter"
# Editors' and the login throttle's state: read from the primary even in a reader's request.
PRIMARY_ONLY_APPS = frozenset({"admin", "auth", "axes", "sessions"})

logger = logging.getLogger("kb.db")

_reads = ContextVar("kb_db_reads", default=PRIMARY)
_replica_down_until = 0.0
# The replica's failures during the current request (a list), noted by kb.ops.db_deadline.
_replica_failures = ContextVar("kb_replica_failures", default=None)


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        if _reads.get() == REPLICA and model._meta.app_label not in PRIMARY_ONLY_APPS:
            return REPLICA
        return PRIMARY

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        # Both aliases hold the same data: the replica streams the primary's.
        return {obj1._state.db, obj2._state.db} <= {PRIMARY, REPLICA}

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


def routing_enabled():
    return REPLICA in settings.DATABASES and ROUTER in settings.DATABASE_ROUTERS


@contextmanager
def reads_from(alias):
    """Route this context's reads (thread and request) to `alias`: PRIMARY or REPLICA."""
    token = _reads.set(alias)
    try:
        yield
    finally:
        _reads.reset(token)


def primary_reads():
    return reads_from(PRIMARY)


def reads_at_generation(generation):
    """Whether this context's reads see content `generation`: always on the primary; on the replica
    only when it has replayed exactly that generation (every content change bumps it in its transaction)."""
    alias = router.db_for_read(ContentVersion)
    if alias == router.db_for_write(ContentVersion):
        return True
    return ContentVersion.objects.using(alias).current()[0] == generation


def replica_available():
    """Connect to the replica (or check the kept connection); False, with a warning, when it cannot answer."""
    global _replica_down_until
    if time.monotonic() < _replica_down_until:
        return False
    connection = connections[REPLICA]
    try:
        if connection.connection is not None and not connection.is_usable():
            connection.close()  # a kept connection the replica dropped (restart, failover): connect again
        connection.ensure_connection()
    except DatabaseError as error:
        replica_failed(" ".join(str(error).split()))
        return False
    return True


def replica_failed(reason):
    """Readers read the primary for KB_REPLICA_RETRY_SECONDS, with one warning."""
    global _replica_down_until
    _replica_down_until = time.monotonic() + settings.KB_REPLICA_RETRY_SECONDS
    connections[REPLICA].close()
    logger.warning(
        "replica %r unreachable, readers read from the primary for %s s: %s",
        REPLICA,
        settings.KB_REPLICA_RETRY_SECONDS,
        reason,
    )


def note_replica_failure(reason):
    """A query on the replica failed during this request: the request is served again from the primary."""
    failures = _replica_failures.get()
    if failures is not None:
        failures.append(reason)


def forget_replica_failure():
    """Try the replica again on the next reader's request (tests, or an operator's shell)."""
    global _replica_down_until
    _replica_down_until = 0.0


class ReplicaReadsMiddleware:
    """Readers' public pages read from the replica; everyone who writes keeps reading the primary."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not routing_enabled():
            return self.get_response(request)
        if request.method in READER_METHODS:
            # A reader's request (kb.ops.readers, PIN_COOKIE included) may read the replica.
            if is_reader(request) and replica_available():
                response, failures = self.from_replica(request)
                if not failures:
                    return response
                replica_failed(failures[0])  # and the request is served again, from the primary
            with reads_from(PRIMARY):
                return self.get_response(request)
        with primary_reads():
            response = self.get_response(request)
        # Whoever writes (an editor saving, signing in or out) reads their own writes for a while.
        response.set_cookie(
            PIN_COOKIE,
            "1",
            max_age=settings.KB_REPLICA_PIN_SECONDS,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        return response

    def from_replica(self, request):
        failures = []
        token = _replica_failures.set(failures)
        try:
            with reads_from(REPLICA):
                return self.get_response(request), failures
        finally:
            _replica_failures.reset(token)
