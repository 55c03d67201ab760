"""Slow clients against the production server alone (no proxy): does a normal request still get through?

    .venv/bin/python bench/slow_clients.py [--clients 120] [--port 18800] [--deadline 0.5]

Starts the server of ``make serve`` (``python -m kb.ops.server``: gunicorn's processes running
waitress) on a loopback port
(SQLite database in a temporary folder) and opens, while timing normal ``GET /robots.txt``
requests: N connections that each send the headers of a ``POST /admin/login/`` (with a CSRF
cookie, so the view reads the body) and a Content-Length larger than the body they then
trickle; --chunked connections whose chunked body holds the bytes ``0\r\n\r\n`` without
ending there (the trick that fooled the hand-written worker this server replaced); and
--bare-lf requests with bare LF line ends. Prints figures; exits 1 if a normal request failed
or took longer than --deadline seconds. Everything stops within about a minute.

``--server "CMD"`` runs another server instead (PORT in CMD is replaced), to compare.
"""

import argparse
import contextlib
import http.client
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_until_up(port, deadline=30.0):
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def normal_request(port, timeout):
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/robots.txt", headers={"Host": f"127.0.0.1:{port}"})
        status = conn.getresponse().status
    except OSError as error:
        return None, time.monotonic() - started, repr(error)
    finally:
        conn.close()
    return status, time.monotonic() - started, ""


LOGIN_HEAD = (
    "POST /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\nCookie: csrftoken=" + "a" * 32 + "\r\n"
)


def slow_client(port, length=100_000):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall((LOGIN_HEAD.format(port=port) + f"Content-Length: {length}\r\n\r\nusername=a").encode())
    return sock


def chunked_client(port):
    """A chunked body whose data so far ends in 0\\r\\n\\r\\n: a 5-byte chunk "0\\r\\n\\r\\n", not the last chunk."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    body = "9\r\nusername=\r\n5\r\n0\r\n\r\n\r\n"
    sock.sendall((LOGIN_HEAD.format(port=port) + "Transfer-Encoding: chunked\r\n\r\n" + body).encode())
    return sock


def bare_lf_client(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(f"GET /robots.txt HTTP/1.1\nHost: 127.0.0.1:{port}\n".encode())  # and never the blank line
    return sock


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=120)
    parser.add_argument("--port", type=int, default=18800)
    parser.add_argument("--hold", type=float, default=20.0, help="how long the slow clients hold on (s)")
    parser.add_argument("--chunked", type=int, default=16, help="connections with the chunked trick")
    parser.add_argument("--bare-lf", type=int, default=16, help="requests with bare LF line ends")
    parser.add_argument("--deadline", type=float, default=0.5, help="what a normal request may take (s)")
    parser.add_argument("--server", help="another server command to measure (PORT is replaced)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="kb-slow-clients-"))
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_INSECURE_HTTP": "1",
        "DJANGO_SECRET_KEY": "slow-clients-bench-" + os.urandom(16).hex(),
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "KB_SITE_URL": f"http://127.0.0.1:{args.port}",
        "KB_SERVER_LISTEN": f"127.0.0.1:{args.port}",
        "KB_ACCESS_LOG": "0",
    }
    python = str(ROOT / ".venv/bin/python")
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    command = (
        shlex.split(args.server.replace("PORT", str(args.port))) if args.server else [python, "-m", "kb.ops.server"]
    )
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "error.log", "w"),  # noqa: SIM115
        start_new_session=True,
    )
    clients, stalled = [], []
    try:
        wait_until_up(args.port)
        status, seconds, error = normal_request(args.port, 10)
        print(f"before: GET /robots.txt -> {status} in {seconds * 1000:.0f} ms {error}")
        stalled = []  # they send no more
        for kind, count, into in (
            (slow_client, args.clients, clients),
            (chunked_client, args.chunked, stalled),
            (bare_lf_client, args.bare_lf, stalled),
        ):
            for _ in range(count):
                try:
                    into.append(kind(args.port))
                except OSError as error:
                    print(f"{kind.__name__} not connected: {error!r}")
        time.sleep(1.0)  # let the server hand them to its workers
        print(
            f"{len(clients) + len(stalled)} connections open: {args.clients} slow bodies, "
            f"{args.chunked} chunked with an early 0\\r\\n\\r\\n, {args.bare_lf} bare-LF requests"
        )
        worst, failures, stop = 0.0, 0, time.monotonic() + args.hold
        while time.monotonic() < stop:
            for sock in clients:  # a byte now and then: they stay alive, never finish
                with contextlib.suppress(OSError):
                    sock.send(b"x")
            status, seconds, error = normal_request(args.port, max(2 * args.deadline, 5))
            worst = max(worst, seconds)
            if status != 200 or seconds > args.deadline:
                failures += 1
                print(f"during: GET /robots.txt -> {status} after {seconds * 1000:.0f} ms {error}")
            time.sleep(0.5)
        print(f"during: slowest normal request {worst * 1000:.0f} ms, {failures} failed or over {args.deadline} s")
        return 1 if failures else 0
    finally:
        for sock in clients + stalled:
            sock.close()
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
