"""Deadlines for the database in a web request: a database that stops answering is a quick 503.

A PostgreSQL server that is stopped (SIGSTOP, a frozen VM, a lost network path that does
not reset) leaves its TCP connections open: the kernel still acknowledges what is sent, so
neither TCP keepalives nor ``tcp_user_timeout`` notice, and a server-side
``statement_timeout`` never runs. A kept connection then waits for an answer forever, and so
does the request. So every database call a web request makes (its queries, and the health
check Django makes of a kept connection before its first query) has a deadline on the client:
a watchdog thread shuts the connection's socket down when the call outlasts it, the call fails
with ``OperationalError``, and the request ends in the styled 503 with ``Retry-After``
(kb.site.views.errors). New connections are bounded by ``connect_timeout`` (kb.settings).

The deadline is ``DATABASE_READ_DEADLINE`` seconds for readers' requests and
``DATABASE_WRITE_DEADLINE`` for the rest (the admin); the replica's calls get at most
``DATABASE_REPLICA_CONNECT_TIMEOUT``, and a failure there is recorded, so the request is served
again from the primary (kb.ops.db_router). Management commands have no deadline.
"""

import contextlib
import itertools
import logging
import socket
import threading
import time
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections

from kb.ops.db_router import PRIMARY, REPLICA, note_replica_failure, replica_failed, routing_enabled
from kb.ops.readers import is_reader

logger = logging.getLogger("kb.db")
WATCH_INTERVAL = 0.05  # seconds between the watchdog's looks


class RequestDeadline:
    """One request's deadline per database call."""

    def __init__(self, seconds):
        self.seconds = seconds

    def seconds_for(self, alias):
        if alias == REPLICA:
            return min(self.seconds, settings.KB_REPLICA_CONNECT_TIMEOUT)
        return self.seconds


_request = ContextVar("kb_db_deadline", default=None)
_calls = {}  # key -> (monotonic deadline, connection wrapper)
_counter = itertools.count()
_lock = threading.Lock()
_watchdog = None


def _watch():
    while True:
        time.sleep(WATCH_INTERVAL)
        now = time.monotonic()
        with _lock:
            expired = [key for key, (deadline, _) in _calls.items() if deadline <= now]
            wrappers = [_calls.pop(key)[1] for key in expired]
        for wrapper in wrappers:
            _cut(wrapper)


def _cut(wrapper):
    """Shut down the socket of ``wrapper``'s connection: the call waiting on it fails at once."""
    connection = wrapper.connection
    if connection is None or wrapper.vendor != "postgresql":
        return
    with contextlib.suppress(Exception):  # a connection closed meanwhile: nothing to cut
        sock = socket.socket(fileno=socket.dup(connection.fileno()))
        with sock:
            sock.shutdown(socket.SHUT_RDWR)
        wrapper.kb_deadline_cut = True
        logger.warning("database %r did not answer within its deadline: connection cut", wrapper.alias)


def _ensure_watchdog():
    global _watchdog
    with _lock:
        if _watchdog is None or not _watchdog.is_alive():
            _watchdog = threading.Thread(target=_watch, name="kb-db-deadline", daemon=True)
            _watchdog.start()


@contextlib.contextmanager
def database_call(wrapper, seconds):
    """Within this block, a call on ``wrapper`` that lasts over ``seconds`` has its connection cut."""
    key = next(_counter)
    wrapper.kb_deadline_cut = False
    with _lock:
        _calls[key] = (time.monotonic() + seconds, wrapper)
    try:
        yield
    finally:
        with _lock:
            _calls.pop(key, None)
    if wrapper.kb_deadline_cut:
        raise OperationalError(f"the database {wrapper.alias!r} did not answer within {seconds:g} s")


def _deadline_wrapper(execute, sql, params, many, context):
    deadline = _request.get()
    if deadline is None:  # not in a web request (a management command): no deadline
        return execute(sql, params, many, context)
    wrapper = context["connection"]
    try:
        with database_call(wrapper, deadline.seconds_for(wrapper.alias)):
            return execute(sql, params, many, context)
    except (OperationalError, InterfaceError) as error:
        if wrapper.alias == REPLICA:
            note_replica_failure(" ".join(str(error).split()))
        raise


def _install():
    """The deadline on every query of this thread's connections (each thread has its own wrappers)."""
    for wrapper in connections.all(initialized_only=False):
        if _deadline_wrapper not in wrapper.execute_wrappers:
            wrapper.execute_wrappers.append(_deadline_wrapper)


def current():
    """This request's ``RequestDeadline``, or None outside a web request."""
    return _request.get()


class DatabaseDeadlineMiddleware:
    """Every database call of the request has a deadline (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response
        _ensure_watchdog()

    def __call__(self, request):
        reader = is_reader(request)
        deadline = RequestDeadline(settings.KB_DB_READ_DEADLINE if reader else settings.KB_DB_WRITE_DEADLINE)
        token = _request.set(deadline)
        _install()
        try:
            if reader and routing_enabled():
                try:
                    check_kept_connection(REPLICA, deadline.seconds_for(REPLICA))
                except DatabaseError as error:
                    replica_failed(" ".join(str(error).split()))  # readers read the primary for a while
            check_kept_connection(PRIMARY, deadline.seconds)  # a stuck primary: a 503 now
            return self.get_response(request)
        finally:
            _request.reset(token)


def check_kept_connection(alias, seconds):
    """Django's health check of a kept connection, under the deadline; a failure closes it and is raised."""
    wrapper = connections[alias]
    if wrapper.connection is None or wrapper.vendor != "postgresql":
        return
    if wrapper.connection.closed or wrapper.connection.broken:  # cut by a deadline in an earlier request
        wrapper.close()
        return
    try:
        with database_call(wrapper, seconds):
            wrapper.close_if_health_check_failed()
    except DatabaseError:
        wrapper.close()
        raise
