"""kb.ops.server: the production server (waitress) and its options; slow clients never hold its threads.

A real server runs here on 127.0.0.1 with ONE thread: if any of the stalled clients below held
it, the normal request after them could not be answered. How many slow clients the server
takes, and what a normal request costs meanwhile, is measured by bench/slow_clients.py.
"""

import json
import logging
import socket
import threading
import time
from contextlib import closing, contextmanager

import pytest
import waitress

from kb.ops import server
from kb.ops.logs import OneLineFormatter


def test_the_options_come_from_the_settings(settings):
    settings.SERVER_LISTEN = "127.0.0.1:9999"
    settings.SERVER_THREADS = 3
    settings.SERVER_CONNECTION_LIMIT = 500
    settings.SERVER_MAX_BODY_BYTES = 1234
    options = server.options()
    assert (options["listen"], options["threads"], options["connection_limit"]) == ("127.0.0.1:9999", 3, 500)
    assert options["max_request_body_size"] == 1234
    assert options["asyncore_use_poll"] is True  # more than 1024 open connections
    assert options["expose_tracebacks"] is False


@contextmanager
def running_server(settings, threads=1):
    settings.SERVER_THREADS = threads
    settings.SERVER_LISTEN = "127.0.0.1:0"
    httpd = waitress.create_server(server.wsgi_app(), **server.options())
    port = httpd.effective_port
    settings.KB_SITE_URL = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=httpd.run, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        httpd.close()
        thread.join(timeout=5)


def raw(port, data):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(data)
    return sock


def get(port, path="/robots.txt"):
    with closing(
        raw(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    ) as s:
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


LOGIN = (
    "POST /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    "Cookie: csrftoken=" + "a" * 32 + "\r\n"
)


@pytest.mark.django_db(transaction=True)
def test_stalled_clients_never_hold_the_only_thread(settings):
    with running_server(settings, threads=1) as port:
        head = LOGIN.format(port=port)
        stalled = [
            # A body announced longer than what is sent.
            raw(port, (head + "Content-Length: 100000\r\n\r\nusername=a").encode()),
            # A chunked body whose bytes so far end in 0\r\n\r\n, inside a chunk: not its end.
            raw(port, (head + "Transfer-Encoding: chunked\r\n\r\n9\r\nusername=\r\n5\r\n0\r\n\r\n\r\n").encode()),
            # Bare LF line ends, the blank line never sent.
            raw(port, f"GET /robots.txt HTTP/1.1\nHost: 127.0.0.1:{port}\n".encode()),
            # Headers never finished.
            raw(port, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode()),
        ]
        try:
            time.sleep(0.3)  # were they handed to the thread, it would be busy now
            started = time.monotonic()
            response = get(port)
            assert time.monotonic() - started < 0.5
            assert response.startswith(b"HTTP/1.1 200")
        finally:
            for sock in stalled:
                sock.close()


@pytest.mark.django_db(transaction=True)
def test_a_body_over_the_limit_is_refused_before_the_site_sees_it(settings):
    settings.SERVER_MAX_BODY_BYTES = 1000
    with running_server(settings) as port:
        head = LOGIN.format(port=port) + "Content-Length: 5000\r\nConnection: close\r\n\r\n"
        with closing(raw(port, head.encode() + b"x" * 5000)) as sock:
            assert sock.recv(100).startswith(b"HTTP/1.1 413")


@pytest.mark.django_db(transaction=True)
def test_every_request_is_logged_on_one_line(settings, capsys):
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter())
    logger = logging.getLogger("kb.access")
    logger.addHandler(handler)
    try:
        with running_server(settings) as port:
            assert get(port).startswith(b"HTTP/1.1 200")
            assert get(port, "/no-such-page/").startswith(b"HTTP/1.1 404")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if '"kb.access"' in line]
    assert [(e["message"], e["status"]) for e in lines] == [
        ("GET /robots.txt 200", 200),
        ("GET /no-such-page/ 404", 404),
    ]
    assert lines[0]["bytes"] > 0 and lines[0]["client"] == "127.0.0.1"
