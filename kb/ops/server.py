"""The production server (``make serve``, ``python -m kb.ops.server``): gunicorn's processes, waitress's HTTP.

gunicorn (``gunicorn==27.0.1``) binds the listening sockets, forks ``KB_SERVER_PROCESSES`` workers
(one per core by default) that share them, restarts a worker that dies or stops answering its
heartbeat, and stops them on SIGTERM/SIGINT (no new connections; requests under way finish within
20 s). Each worker (``WaitressWorker``) runs waitress (``waitress==3.0.2``) on those sockets: its event
loop reads every request whole (request line, headers and body, chunked bodies decoded by its own
parser) before one of its ``KB_SERVER_THREADS`` threads sees it, so a client that trickles its
body, stops half-way, ends a chunked body early or sends bare LF line ends holds a socket, never
a thread. Neither parses HTTP here: gunicorn never reads a request, waitress reads them all.
Headers over 64 KiB are refused (431) and bodies over ``KB_SERVER_MAX_BODY_BYTES`` (413); a
connection silent for 30 s is closed. Options come from kb.settings (``SERVER_*``, read from
``KB_SERVER_*``); every request is logged on the ``kb.access`` logger (one JSON line on standard
error, kb.ops.logs) unless ``KB_ACCESS_LOG=0``, and gunicorn's own records come as the same JSON lines.

Chosen by measurement (README, *The server and slow clients*, 2-core machine shared with other
work): one waitress process used one core only; granian (2.8.7) hands a WSGI body to the
application's thread to read, so 120 trickling clients left normal requests timing out after 5 s,
as plain gthread did; uvicorn with Django's ASGI handler took 2-3x the CPU per request. With
``bench/slow_clients.py`` (120 trickling bodies, 16 early-ending chunked bodies, 16 bare-LF
requests) the slowest normal request took 65-129 ms (one waitress process: 6-11 ms); on a cached
page (``bench/server_throughput.py``, 6 rounds) it served 1.41x the requests per second of 1eaf68d's
5-process gunicorn (one waitress process: 1.27x), at 0.75x its server CPU per request.

Production still sits behind the README's buffering reverse proxy, which ends TLS.
"""

import logging
import os
import time

import waitress
from django.conf import settings
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

from kb.ops.logs import OneLineFormatter
from kb.wsgi import application

access_log = logging.getLogger("kb.access")

MAX_HEADER_BYTES = 64 * 1024
IDLE_SECONDS = 30
HEARTBEAT_SECONDS = 1.0
OUTPUT_BUFFER_BYTES = 1024 * 1024


def options():
    """waitress's adjustments for each process (see waitress.adjustments.Adjustments); gunicorn binds the sockets."""
    return {
        "threads": settings.SERVER_THREADS,
        # Slow clients cost a socket each: room for many (poll(), not select(), past 1024 descriptors).
        "connection_limit": settings.SERVER_CONNECTION_LIMIT,
        "asyncore_use_poll": True,
        "asyncore_loop_timeout": HEARTBEAT_SECONDS,
        "channel_timeout": IDLE_SECONDS,
        "max_request_header_size": MAX_HEADER_BYTES,
        "max_request_body_size": settings.SERVER_MAX_BODY_BYTES,
        # A keep-alive connection's output buffer holds what it already sent until it has taken this
        # much, then a fresh one is used (waitress's 16 MiB default: 40 pages of 322 KB left 12.9 MB
        # in memory per connection). Past this much unsent a thread writing more would wait for the
        # client; the site's responses are one chunk each (static files go by wsgi.file_wrapper).
        "outbuf_high_watermark": OUTPUT_BUFFER_BYTES,
        "outbuf_overflow": 4 * OUTPUT_BUFFER_BYTES,  # unsent output in memory below this, in a file above
        "expose_tracebacks": False,
        "ident": "kb",
    }


def gunicorn_options():
    """gunicorn's settings: where to listen and how many processes; requests are logged by AccessLog."""
    return {
        "bind": settings.SERVER_LISTEN.split(),
        "workers": settings.SERVER_PROCESSES,
        "worker_class": WaitressWorker,
        "logger_class": OneLineLog,
        "preload_app": True,  # the site loaded once, before the workers are forked
        "timeout": IDLE_SECONDS,  # a worker whose event loop is stuck this long is replaced
        "graceful_timeout": 20,
        "accesslog": None,
        "errorlog": "-",
        "proc_name": "kb",
        # gunicorn 27's control socket sits at a path shared by every instance of the user.
        "control_socket_disable": True,
    }


class OneLineLog(Logger):
    """gunicorn's own records (workers booted, exited, replaced) as the site's one-line JSON."""

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(OneLineFormatter())


class WaitressWorker(Worker):
    """One gunicorn process: waitress's event loop and threads on the listening sockets gunicorn shares.

    gunicorn forks it, restarts it if it dies and stops it (SIGTERM: no new connections, requests
    under way finish within ``graceful_timeout``); waitress reads and answers HTTP.
    """

    def run(self):
        channels = {}  # waitress's socket map: the listening sockets and every open connection
        server = waitress.create_server(
            AccessLog(self.wsgi) if settings.SERVER_ACCESS_LOG else self.wsgi,
            map=channels,
            sockets=[listener.sock for listener in self.sockets],
            **options(),
        )
        beat = 0.0
        while self.alive:
            if time.monotonic() >= beat:  # gunicorn restarts a worker silent for `timeout` seconds
                self.notify()
                self.alive = self.alive and self.ppid == os.getppid()  # orphaned: stop
                beat = time.monotonic() + HEARTBEAT_SECONDS
            wasyncore.loop(HEARTBEAT_SECONDS, use_poll=True, map=channels, count=1)
        self.finish(server, channels)

    def finish(self, server, channels):
        for listening in [c for c in channels.values() if isinstance(c, BaseWSGIServer)]:
            listening.del_channel()  # accepts no more; the socket stays open for the other processes
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while time.monotonic() < deadline and any(
            channel.requests or channel.total_outbufs_len
            for channel in channels.values()
            if isinstance(channel, HTTPChannel)
        ):
            wasyncore.loop(0.1, use_poll=True, map=channels, count=1)
        server.task_dispatcher.shutdown(timeout=1)
        wasyncore.close_all(channels)


class Server(BaseApplication):
    """gunicorn configured from kb.settings (no command line, no configuration file), serving kb.wsgi."""

    def load_config(self):
        for name, value in gunicorn_options().items():
            self.cfg.set(name, value)

    def load(self):
        return application


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


def main():
    Server().run()


if __name__ == "__main__":
    main()
