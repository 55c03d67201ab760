"""A fully cached page under the production server (kb.ops.server, or an older checkout's gunicorn), against the
same bytes served as a static file by whitenoise, before and after a change, interleaved.

    .venv/bin/python bench/throughput.py BEFORE_CHECKOUT AFTER_CHECKOUT [--rounds 5] [--seconds 3]

Each checkout gets its own SQLite database of the real content/ (migrated with its own code), its
own collected static files holding the page's bytes as ``bench-page.html``, and its own server
on a free loopback port (production settings: debug off, local-memory page cache). Eight
keep-alive clients (one asyncio process, no Accept-Encoding: raw bytes) request the page, then the
static file, for ``--seconds`` each; rounds alternate which checkout goes first. Prints medians of
requests per second and the page/static ratio per checkout; asserts nothing.
"""

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PAGES = ["/subjects/flask/", "/"]
STATIC_NAME = "bench-page.html"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _client(port, path, deadline, counts):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: keep-alive\r\n\r\n".encode()
    while time.monotonic() < deadline:
        writer.write(request)
        status_line = await reader.readline()
        if not status_line:  # the worker closed the connection (max_requests): connect again
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            continue
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            elif line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
                chunked = True
        if chunked:
            while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
                await reader.readexactly(size + 2)
            await reader.readline()
        else:
            await reader.readexactly(length)
        counts[status] = counts.get(status, 0) + 1
    writer.close()


def hammer(port, path, seconds, clients=8):
    """Requests per second answered 200 by ``clients`` keep-alive connections."""
    counts = {}

    async def run():
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_client(port, path, deadline, counts) for _ in range(clients)))

    asyncio.run(run())
    assert set(counts) == {200}, counts
    return counts[200] / seconds


class Site:
    """One checkout served by its production server with its own database and static files."""

    def __init__(self, root, python):
        self.root = Path(root).resolve()
        self.state = Path(tempfile.mkdtemp(prefix="kb-throughput-"))
        self.port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "kb.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_INSECURE_HTTP": "1",
            "DJANGO_SECRET_KEY": secrets.token_hex(32),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,testserver",
            "KB_SITE_URL": f"http://127.0.0.1:{self.port}",
            "DATABASE_URL": f"sqlite:///{self.state / 'db.sqlite3'}",
            "KB_CONTENT_CACHE": str(self.state / "content-cache"),
        }
        self.env.pop("REDIS_URL", None)
        self.env.pop("GUNICORN_CONTROL_SOCKET", None)
        manage = [python, "manage.py"]
        for args in (["migrate", "--noinput", "-v0"], ["load_content", "content/", "-v0"]):
            subprocess.run([*manage, *args], cwd=self.root, env=self.env, check=True, stderr=subprocess.DEVNULL)
        subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=self.root, env=self.env, check=True)
        self.process = None
        if (self.root / "kb/ops/server.py").exists():  # kb.ops.server (waitress; gunicorn's processes running it)
            self.server = [python, "-m", "kb.ops.server"]
            self.env["KB_SERVER_LISTEN"] = f"127.0.0.1:{self.port}"
        else:  # an older checkout: gunicorn with its configuration
            config = next(p for p in ("kb/ops/gunicorn.conf.py", "kb/gunicorn.conf.py") if (self.root / p).exists())
            self.server = [str(self.root / ".venv/bin/gunicorn"), "kb.wsgi", "--config", config]
            self.server += ["--bind", f"127.0.0.1:{self.port}"]

    def start(self):
        self.process = subprocess.Popen(
            self.server,
            cwd=self.root,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/robots.txt", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the server of {self.root} did not start")

    def stop(self):
        if self.process:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
            self.process = None

    def static_root(self):
        return self.root / "staticfiles"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1, help="length of one turn")
    parser.add_argument("--turns", type=int, default=3, help="page/static turns per page and round")
    args = parser.parse_args()
    python = sys.executable
    sites = {"before": Site(args.before, python), "after": Site(args.after, python)}
    results = {(name, page, kind): [] for name in sites for page in PAGES for kind in ("page", "static")}
    sizes = {}
    try:
        # Each page's bytes as a static file of that checkout (whitenoise indexes files at start).
        for name, site in sites.items():
            site.start()
            for number, page in enumerate(PAGES):
                body = urllib.request.urlopen(f"http://127.0.0.1:{site.port}{page}", timeout=10).read()
                sizes[name, page] = len(body)
                (site.static_root() / f"{number}-{STATIC_NAME}").write_bytes(body)
            site.stop()
            site.start()
        for round_number in range(args.rounds):
            order = list(sites) if round_number % 2 == 0 else list(reversed(sites))
            for name in order:
                site = sites[name]
                for number, page in enumerate(PAGES):
                    hammer(site.port, page, 0.5)  # the page cached, connections warm
                    static = f"/static/{number}-{STATIC_NAME}"
                    # Page and static file in short turns: the machine's other load falls on both alike.
                    for _ in range(args.turns):
                        results[name, page, "page"].append(hammer(site.port, page, args.seconds))
                        results[name, page, "static"].append(hammer(site.port, static, args.seconds))
            print(f"round {round_number + 1}/{args.rounds} done", flush=True)
    finally:
        for site in sites.values():
            site.stop()
            for number in range(len(PAGES)):
                (site.static_root() / f"{number}-{STATIC_NAME}").unlink(missing_ok=True)
            shutil.rmtree(site.state, ignore_errors=True)

    print(
        f"\nMedians of {args.rounds} interleaved rounds x {args.turns} turns of {args.seconds:g} s,"
        " 8 keep-alive clients, raw bytes (no Accept-Encoding)\n"
    )
    print(f"{'page':<20} {'checkout':<8} {'bytes':>9} {'page req/s':>11} {'static req/s':>13} {'page/static':>12}")
    for page in PAGES:
        for name in sites:
            page_rps = statistics.median(results[name, page, "page"])
            static_rps = statistics.median(results[name, page, "static"])
            print(
                f"{page:<20} {name:<8} {sizes[name, page]:>9,} {page_rps:>11,.0f} {static_rps:>13,.0f}"
                f" {page_rps / static_rps:>12.2f}"
            )


if __name__ == "__main__":
    main()
