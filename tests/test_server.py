"""kb.ops.server: the production server (gunicorn's processes running waitress) and its options.

A real worker (kb.ops.server.WaitressWorker, as gunicorn runs it) serves here on 127.0.0.1 with ONE
thread: if any of the stalled clients below held it, the normal request after them could not be
answered. How many slow clients the server takes, and what a normal request costs meanwhile, is
measured by bench/slow_clients.py; its throughput by bench/server_throughput.py. The last test runs
``python -m kb.ops.server`` itself: its processes, one replaced when it dies, all stopped on SIGTERM.
"""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from gunicorn.sock import TCPSocket

from kb.ops import server
from kb.ops.logs import OneLineFormatter
from kb.wsgi import application


def test_the_options_come_from_the_settings(settings):
    settings.SERVER_LISTEN = "127.0.0.1:9999 [::1]:9999"
    settings.SERVER_PROCESSES = 5
    settings.SERVER_THREADS = 3
    settings.SERVER_CONNECTION_LIMIT = 500
    settings.SERVER_MAX_BODY_BYTES = 1234
    options = server.options()
    assert (options["threads"], options["connection_limit"], options["max_request_body_size"]) == (3, 500, 1234)
    assert options["asyncore_use_poll"] is True  # more than 1024 open connections
    assert options["expose_tracebacks"] is False
    cfg = server.Server().cfg
    assert (cfg.bind, cfg.workers, cfg.worker_class) == (["127.0.0.1:9999", "[::1]:9999"], 5, server.WaitressWorker)
    assert cfg.accesslog is None  # kb.access logs the requests


@contextmanager
def running_server(settings, threads=1):
    """One WaitressWorker in a thread of this process, on a socket gunicorn binds (as its arbiter does)."""
    settings.SERVER_THREADS = threads
    cfg = server.Server().cfg
    gunicorn_log = cfg.logger_class(cfg)
    listener = TCPSocket(("127.0.0.1", 0), cfg, gunicorn_log)
    port = listener.sock.getsockname()[1]
    settings.KB_SITE_URL = f"http://127.0.0.1:{port}"
    worker = server.WaitressWorker(0, os.getppid(), [listener], None, cfg.timeout, cfg, gunicorn_log)
    worker.wsgi = application  # what gunicorn's load_wsgi sets
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        worker.alive = False  # as its SIGTERM handler does
        thread.join(timeout=5)
        assert not thread.is_alive()
        listener.close()


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
def test_headers_over_64_kib_are_refused(settings):
    with running_server(settings) as port:
        head = f"GET /robots.txt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Big: {'a' * 70_000}\r\n\r\n"
        with closing(raw(port, head.encode())) as sock:
            assert sock.recv(100).split(b" ", 2)[1] == b"431"  # waitress answers it as HTTP/1.0


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


def children(pid):
    return set(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def answers(port):
    try:
        return get(port).startswith(b"HTTP/1.1 ")
    except OSError:
        return False


def test_the_server_runs_its_processes_replaces_a_dead_one_and_stops_them_all(tmp_path, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kb.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_INSECURE_HTTP": "1",
        "DJANGO_SECRET_KEY": "server-test-" + "x" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "KB_SITE_URL": f"http://127.0.0.1:{port}",
        "KB_SERVER_LISTEN": f"127.0.0.1:{port}",
        "KB_SERVER_PROCESSES": "2",
        "KB_ACCESS_LOG": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "kb.ops.server"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for(lambda: len(children(process.pid)) == 2 and answers(port))
        first, second = sorted(children(process.pid))
        os.kill(int(first), signal.SIGKILL)
        wait_for(lambda: first not in children(process.pid) and len(children(process.pid)) == 2)
        assert second in children(process.pid)
        assert answers(port)
        workers = children(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
        # Every line JSON, gunicorn's own records too (the site's here: its database was never migrated).
        records = [json.loads(line) for line in process.stderr.read().decode().splitlines()]
        booted = [r for r in records if r["logger"] == "gunicorn.error" and "Booting worker" in r["message"]]
        assert len(booted) == 3
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stderr.close()
