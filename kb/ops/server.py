"""The production server: waitress serving kb.wsgi (``make serve``, ``python -m kb.ops.server``).

waitress reads every request whole (request line, headers and body, chunked bodies decoded
by its own parser) on its event loop before one of its threads sees it, so a client that
trickles its body, stops half-way, ends a chunked body early or sends bare LF line ends holds
a socket, never a thread: 120 such clients leave a normal request as fast as without them
(``bench/slow_clients.py``). Headers over 64 KiB are refused (431) and bodies over
``KB_SERVER_MAX_BODY_BYTES`` (413); a connection silent for 30 s is closed. Options come from
kb.settings (``SERVER_*``, read from ``KB_SERVER_*``); every request is logged on the
``kb.access`` logger (one JSON line on standard error, kb.ops.logs) unless ``KB_ACCESS_LOG=0``.

Production still sits behind the README's buffering reverse proxy, which ends TLS.
"""

import logging
import time

import waitress
from django.conf import settings

from kb.wsgi import application

access_log = logging.getLogger("kb.access")

MAX_HEADER_BYTES = 64 * 1024
IDLE_SECONDS = 30


def options():
    """waitress's adjustments for this site (see waitress.adjustments.Adjustments)."""
    return {
        "listen": settings.SERVER_LISTEN,
        "threads": settings.SERVER_THREADS,
        # Slow clients cost a socket each: room for many (poll(), not select(), past 1024 descriptors).
        "connection_limit": settings.SERVER_CONNECTION_LIMIT,
        "asyncore_use_poll": True,
        "channel_timeout": IDLE_SECONDS,
        "max_request_header_size": MAX_HEADER_BYTES,
        "max_request_body_size": settings.SERVER_MAX_BODY_BYTES,
        "expose_tracebacks": False,
        "ident": "kb",
    }


class AccessLog:
    """One ``kb.access`` record per request: method, path, status, bytes sent and milliseconds."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = time.monotonic()
        seen = {}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording_start_response)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
            self.log(environ, seen, started, None)  # a static file: waitress sends it from the file itself
            return body
        return self.logged(body, environ, seen, started)

    def logged(self, body, environ, seen, started):
        sent = 0
        try:
            for chunk in body:
                sent += len(chunk)
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()
            self.log(environ, seen, started, sent)

    @staticmethod
    def log(environ, seen, started, sent):
        access_log.info(
            "%s %s %s",
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            seen.get("status"),
            extra={
                "client": environ.get("REMOTE_ADDR"),
                "status": seen.get("status"),
                "bytes": sent,
                "duration_ms": round((time.monotonic() - started) * 1000),
            },
        )


def wsgi_app():
    return AccessLog(application) if settings.SERVER_ACCESS_LOG else application


def main():
    waitress.serve(wsgi_app(), **options())


if __name__ == "__main__":
    main()
