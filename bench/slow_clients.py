"""Slow request bodies against gunicorn alone (no proxy): does a normal request still get through?

    .venv/bin/python bench/slow_clients.py [--clients 120] [--port 18800]

Starts gunicorn with kb/ops/gunicorn.conf.py on a loopback port (SQLite database in a temporary
folder, control socket off), opens N connections that each send the headers of a
``POST /admin/login/`` with a Content-Length larger than the body they then trickle, and
while they hold on, times normal ``GET /robots.txt`` requests. Prints figures; exits 1 if
a normal request did not succeed within --deadline seconds. Everything stops within
about a minute, whatever happens.
"""

import argparse
import contextlib
import http.client
import os
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
    raise SystemExit("gunicorn did not start")


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


def slow_client(port, length=100_000):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        (
            "POST /admin/login/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {length}\r\n\r\nusername=a"
        ).encode()
    )
    return sock


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=120)
    parser.add_argument("--port", type=int, default=18800)
    parser.add_argument("--hold", type=float, default=20.0, help="how long the slow clients hold on (s)")
    parser.add_argument("--deadline", type=float, default=5.0, help="what a normal request may take (s)")
    parser.add_argument("--app", default="kb.wsgi", help="kb.wsgi (gthread) or kb.asgi (-k asgi)")
    parser.add_argument("gunicorn_args", nargs="*", help="more gunicorn options, after --")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="kb-slow-clients-"))
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_INSECURE_HTTP": "1",
        "DJANGO_SECRET_KEY": "slow-clients-bench-" + os.urandom(16).hex(),
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "KB_SITE_URL": f"http://127.0.0.1:{args.port}",
        "KB_CONTENT_CACHE": str(folder / "cache"),
        "GUNICORN_ACCESS_LOG": str(folder / "access.log"),
        "GUNICORN_CONTROL_SOCKET": "",
    }
    env.pop("GUNICORN_CMD_ARGS", None)
    python = str(ROOT / ".venv/bin/python")
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            args.app,
            "-c",
            "kb/ops/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{args.port}",
            *args.gunicorn_args,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "error.log", "w"),  # noqa: SIM115
        start_new_session=True,
    )
    clients = []
    try:
        wait_until_up(args.port)
        status, seconds, error = normal_request(args.port, args.deadline)
        print(f"before: GET /robots.txt -> {status} in {seconds * 1000:.0f} ms {error}")
        for _ in range(args.clients):
            try:
                clients.append(slow_client(args.port))
            except OSError as error:
                print(f"slow client not connected: {error!r}")
        time.sleep(1.0)  # let the server hand them to its workers
        print(f"{len(clients)} slow-body connections open")
        worst, failures, stop = 0.0, 0, time.monotonic() + args.hold
        while time.monotonic() < stop:
            for sock in clients:  # a byte now and then: they stay alive, never finish
                with contextlib.suppress(OSError):
                    sock.send(b"x")
            status, seconds, error = normal_request(args.port, args.deadline)
            worst = max(worst, seconds)
            if status != 200:
                failures += 1
                print(f"during: GET /robots.txt -> {status} after {seconds * 1000:.0f} ms {error}")
            time.sleep(0.5)
        print(f"during: slowest normal request {worst * 1000:.0f} ms, {failures} failed")
        return 1 if failures else 0
    finally:
        for sock in clients:
            sock.close()
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
