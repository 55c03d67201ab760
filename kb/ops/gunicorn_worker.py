"""A gthread worker that reads each whole request before a thread serves it (slow clients cost no thread).

gunicorn's gthread worker hands a connection to one of its few threads as soon as
the connection is readable; the application then reads the request body from the
socket in that thread. A client that announces a Content-Length and trickles the
body (or stops sending) holds the thread until it gives up: 120 such clients
stopped a site of 5 workers x 2 threads (``bench/slow_clients.py``).

This worker does what a buffering reverse proxy does, in the worker's own event
loop: the connection stays on the poller, its bytes are collected without blocking
until the request line, the headers and the announced body are all in, and only
then is it handed to a thread, with the bytes given back to gunicorn's parser. A
request that does not arrive whole within ``GUNICORN_REQUEST_TIMEOUT`` seconds gets
a 408 and is closed; headers over 64 KiB get a 431 and a body over
``GUNICORN_MAX_BODY_BYTES`` a 413, without a thread ever waiting for them.

Used by kb/ops/gunicorn.conf.py (``worker_class``). TLS and HTTP/2 connections (not
used here: TLS ends at the proxy) are served as gthread serves them.
"""

import collections
import contextlib
import errno
import os
import re
import selectors
import time
from functools import partial

from gunicorn.workers.gthread import ThreadWorker

REQUEST_TIMEOUT = float(os.environ.get("GUNICORN_REQUEST_TIMEOUT", "30"))
MAX_BODY_BYTES = int(os.environ.get("GUNICORN_MAX_BODY_BYTES", str(10 * 1024 * 1024)))
MAX_HEADER_BYTES = 64 * 1024
READ_SIZE = 64 * 1024

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d+)[ \t]*(?=\r\n)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r\n]*chunked", re.IGNORECASE)


def request_state(data):
    """ "complete", "incomplete", or the status line to refuse the request with."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return "incomplete" if len(data) <= MAX_HEADER_BYTES else "431 Request Header Fields Too Large"
    head, body = data[: end + 2], data[end + 4 :]
    if _CHUNKED.search(head):
        # The last chunk is "0" with an empty line (trailers aside).
        return "complete" if body.endswith(b"0\r\n\r\n") else _body_size_state(len(body))
    match = _CONTENT_LENGTH.search(head)
    length = int(match.group(1)) if match else 0
    if length > MAX_BODY_BYTES:
        return "413 Content Too Large"
    return "complete" if len(body) >= length else "incomplete"


def _body_size_state(size):
    return "incomplete" if size <= MAX_BODY_BYTES else "413 Content Too Large"


class BufferingThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffering = collections.deque()

    def _buffers(self, conn):
        if self.cfg.is_ssl or list(self.cfg.http_protocols) != ["h1"]:
            return False
        # Bytes the parser already holds (read ahead while draining a body) go straight to a thread.
        return conn.parser is None or not conn.parser.unreader.buf.getvalue()

    def enqueue_req(self, conn):
        if getattr(conn, "kb_whole", False) or not self._buffers(conn):
            conn.kb_whole = False
            return super().enqueue_req(conn)
        conn.kb_buffer = b""
        conn.kb_deadline = time.monotonic() + REQUEST_TIMEOUT
        conn.sock.setblocking(False)
        self.buffering.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn, client):
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            return self._drop(conn)
        conn.kb_buffer += data
        state = request_state(conn.kb_buffer)
        if state == "incomplete":
            return
        if state != "complete":
            return self._drop(conn, state)
        self._stop_buffering(conn)
        conn.kb_whole = True
        self.enqueue_req(conn)

    def handle(self, conn):
        data = conn.__dict__.pop("kb_buffer", b"")
        if data:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(data)
            conn.data_ready = True
        return super().handle(conn)

    def _stop_buffering(self, conn):
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(conn.sock)
        with contextlib.suppress(ValueError):
            self.buffering.remove(conn)

    def _drop(self, conn, status=None):
        self._stop_buffering(conn)
        if status:
            try:
                conn.sock.send(f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode())
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EPIPE, errno.ECONNRESET):
                    self.log.debug("could not answer a refused request: %s", error)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        for conn in [conn for conn in self.buffering if conn.kb_deadline <= now]:
            self.log.info("request not received whole within %ss from %s: 408", REQUEST_TIMEOUT, conn.client)
            self._drop(conn, "408 Request Timeout")
