"""The benchmark behind bench/run: one engine per process (Django settings are per process).

Prints a table of figures; asserts nothing. See bench/run for how it is started.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(seconds):
    return f"{seconds * 1000:.2f} ms"


class Table:
    def __init__(self, engine):
        self.engine = engine
        self.rows = []

    def add(self, what, figure, detail=""):
        self.rows.append((what, figure, detail))
        print(f"  {what:<58} {figure:>14}  {detail}", flush=True)


def timed_requests(client, url, count, before_each=None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, size = [], 0, 0
    for _ in range(count):
        if before_each:
            before_each()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
        queries, size = len(captured), len(response.content)
    return times, queries, size


def page_figures(table, client, label, url, count):
    from django.core.cache import cache

    timed_requests(client, url, 5, before_each=cache.clear)  # warm-up
    times, queries, size = timed_requests(client, url, count, before_each=cache.clear)
    table.add(f"{label}: uncached median", ms(statistics.median(times)), f"p95 {ms(percentile(times, 0.95))}")
    table.add(f"{label}: SQL queries (uncached)", str(queries), f"{size:,} bytes of HTML")
    client.get(url)
    times, cached_queries, _ = timed_requests(client, url, count)
    table.add(f"{label}: cached median", ms(statistics.median(times)), f"p95 {ms(percentile(times, 0.95))}")
    table.add(f"{label}: SQL queries (cached)", str(cached_queries))
    return size


def timed_command(*args):
    from django.core.management import call_command

    start = time.perf_counter()
    call_command(*args, verbosity=0)
    return time.perf_counter() - start


def compare_url(slugs):
    from django.urls import reverse

    return reverse("kb:compare", args=[slugs])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hammer(url, seconds, clients=8):
    """Requests per second from ``clients`` keep-alive connections (wrk when installed)."""
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run(
            [wrk, f"-t{min(clients, 2)}", f"-c{clients}", f"-d{seconds}s", url], capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            if line.startswith("Requests/sec:"):
                return float(line.split()[1]), "wrk"
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    deadline = time.monotonic() + seconds
    counts = [0] * clients

    def worker(n):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        while time.monotonic() < deadline:
            conn.request("GET", parts.path)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                counts[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds, "python threads"


def server_throughput(table, page_url, page_bytes, seconds):
    """Cached page under the production server (kb.ops.server) vs the same bytes as a static file (whitenoise)."""
    from django.conf import settings

    static_name = "bench-page.html"
    (Path(settings.STATIC_ROOT) / static_name).write_bytes(page_bytes)
    port = free_port()
    # The site's origin is this port (Host ports are checked).
    env = {**os.environ, "KB_SITE_URL": f"http://127.0.0.1:{port}", "KB_SERVER_LISTEN": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), "-m", "kb.ops.server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + page_url, timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        static_url = f"{base}{settings.STATIC_URL}{static_name}"
        assert urllib.request.urlopen(static_url, timeout=5).read() == page_bytes
        page_rps, tool = hammer(base + page_url, seconds)
        static_rps, _ = hammer(static_url, seconds)
        table.add("server: cached 10x100 page", f"{page_rps:,.0f} req/s", f"({tool}, {seconds}s)")
        table.add("server: same bytes as a static file", f"{static_rps:,.0f} req/s")
        table.add("server: page / static ratio", f"{page_rps / static_rps:.2f}", "target >= 0.5")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        (Path(settings.STATIC_ROOT) / static_name).unlink(missing_ok=True)


def search_figures(table, count=100):
    from kb.knowledge import models as m
    from kb.knowledge.synthetic import WORDS
    from kb.site.search import search

    excerpts = m.Excerpt.objects.count()
    terms = [WORDS[n % len(WORDS)] + ("" if n % 3 else f" {WORDS[(n * 7) % len(WORDS)]}") for n in range(count)]
    terms += ["statement 4242", "synthetic websockets", "nothing-matches-this"]
    for term in terms[:5]:
        search(term)
    times = []
    for term in terms:
        start = time.perf_counter()
        search(term)
        times.append(time.perf_counter() - start)
    table.add(
        f"search over {excerpts:,} excerpts: median",
        ms(statistics.median(times)),
        f"p95 {ms(percentile(times, 0.95))} ({len(times)} queries)",
    )


def run(engine, args):
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from kb.knowledge.synthetic import Size, generate

    table = Table(engine)
    print(f"\n== {engine}", flush=True)
    call_command("flush", "--noinput", verbosity=0)
    client = Client()

    first = timed_command("load_content", str(ROOT / "content"))
    again = timed_command("load_content", str(ROOT / "content"))
    table.add("load_content: real content, first load", f"{first:.2f} s", "target < 3 s")
    table.add("load_content: real content, nothing changed", f"{again:.2f} s")

    page_figures(table, client, "2 subjects x real content", compare_url(["flask", "django"]), args.requests)

    generate(Size(subjects=10, dimensions=100, seed=1))
    page_figures(
        table,
        client,
        "2 subjects x 10 dimensions (synthetic)",
        compare_url(["synthetic-1", "synthetic-2"]) + "?group=synthetic-group-1",
        args.requests,
    )
    big_url = compare_url([f"synthetic-{n}" for n in range(1, 11)])
    page_bytes_size = page_figures(table, client, "10 subjects x 100 dimensions", big_url, args.requests)
    table.add("10x100 page size", f"{page_bytes_size / 1024:.0f} KiB", "target < 1 MB")

    if not args.skip_server:
        client.get(big_url)
        page_bytes = client.get(big_url).content
        server_throughput(table, big_url, page_bytes, args.seconds)

    # load_content at scale: 50 subjects x 500 dimensions = 25,000 claims, exported to files.
    call_command("flush", "--noinput", verbosity=0)
    generate(Size(subjects=50, dimensions=500, seed=2))
    export_dir = Path(tempfile.mkdtemp(prefix="kb-bench-content-"))
    try:
        timed_command("export_content", str(export_dir))
        call_command("flush", "--noinput", verbosity=0)
        shutil.rmtree(ROOT / ".cache" / "content", ignore_errors=True)
        first = timed_command("load_content", str(export_dir))
        again = timed_command("load_content", str(export_dir))
        table.add("load_content: 25,000 claims, first load", f"{first:.2f} s", "target < 60 s")
        table.add(
            "load_content: 25,000 claims, nothing changed",
            f"{again:.2f} s",
            f"{again / first:.0%} of first (target < 25%)",
        )
    finally:
        shutil.rmtree(export_dir, ignore_errors=True)

    call_command("flush", "--noinput", verbosity=0)
    generate(Size(subjects=20, dimensions=500, excerpts_per_claim=10, seed=3))
    search_figures(table)
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("engine")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-server", action="store_true")
    run(parser.parse_args().engine, parser.parse_args())


if __name__ == "__main__":
    main()
