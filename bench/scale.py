"""A knowledge base a hundred times larger: each public page's CPU time on 100,000 claims against the
same page on the real content, before and after a change, interleaved in one run.

    .venv/bin/python bench/scale.py BEFORE_CHECKOUT AFTER_CHECKOUT [--rounds 5] [--per-round 3]

Two databases are built once with BEFORE's code (SQLite): the real content/ ("real"), and the real
content plus ``generate_synthetic --subjects 500 --dimensions 200`` ("100k": 100,180 claims). Each
checkout gets its own copy of each, migrated with its own code, and one worker process per database
(Django settings are per process): four workers. Pages are built every time (KB_PAGE_CACHE_SECONDS=0;
what a checkout keeps below the page, such as comparison columns, stays). Each request's CPU time is
``time.process_time()`` in the worker; rounds alternate which checkout goes first. A second table
times the same pages as page-cache hits on the real content (with against without the page cache).
Prints tables of medians; asserts nothing.
"""

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAGES = {
    "home": "/",
    "/subjects/": "/subjects/",
    "/dimensions/": "/dimensions/",
    "subject page (Flask)": "/subjects/flask/",
    "dimension page (Flexibility)": "/dimensions/flexibility/",
    "search ?q=template": "/search/?q=template",
    "feed: recent claims": "/feeds/claims/",
    "feed: a subject (Flask)": "/feeds/subjects/flask/",
    "comparison Flask vs Django": "/compare/flask-vs-django/",
}
# Pages that exist only after the change (the sitemap index's files), or are too slow to time before.
AFTER_ONLY = {
    "sitemap index": "/sitemap.xml",
    "sitemap file: claims, first": "/sitemap-claims.xml",
}
CACHED = {
    "home": "/",
    "subject page (Flask)": "/subjects/flask/",
    "comparison Flask vs Django": "/compare/flask-vs-django/",
}


def environment(root, database, state):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kb.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_INSECURE_HTTP": "1",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DJANGO_SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": f"sqlite:///{database}",
        "KB_CONTENT_CACHE": str(state / "content-cache"),
        "KB_PAGE_CACHE_SECONDS": "0",
    }


def build_databases(before, state):
    """real.sqlite3 and big.sqlite3, built with BEFORE's code."""
    python = sys.executable
    for name, extra in (("real", None), ("big", ["--subjects", "500", "--dimensions", "200"])):
        database = state / f"{name}.sqlite3"
        env = {k: v for k, v in environment(before, database, state).items() if k != "REDIS_URL"}
        for args in (
            ["migrate", "--noinput"],
            ["load_content", "content/"],
            *([["generate_synthetic", *extra]] if extra else []),
        ):
            subprocess.run(
                [python, "manage.py", *args, "-v0"], cwd=before, env=env, check=True, stderr=subprocess.DEVNULL
            )
        print(f"built {name}", flush=True)


# The worker ------------------------------------------------------------------------------------------


def worker(root, database):
    os.chdir(root)
    sys.path.insert(0, str(root))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client, override_settings

    call_command("migrate", "--noinput", verbosity=0)  # this checkout's own migrations (indexes)
    client = Client(HTTP_HOST="testserver")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        cpu, wall, status, size = [], [], None, 0
        seconds = int(request.get("cached", 0)) and 3600
        with override_settings(KB_PAGE_CACHE_SECONDS=seconds):
            for number in range(request["count"] + 1):
                start_cpu, start_wall = time.process_time(), time.perf_counter()
                response = client.get(request["url"])
                if number:  # the first one warms (and, when cached, fills the cache)
                    cpu.append(time.process_time() - start_cpu)
                    wall.append(time.perf_counter() - start_wall)
                status, size = response.status_code, len(response.content)
        print(json.dumps({"cpu": cpu, "wall": wall, "status": status, "size": size}), flush=True)


class Worker:
    def __init__(self, root, database, state):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(root), str(database)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=environment(root, database, state),
        )
        assert json.loads(self.process.stdout.readline())["ready"]

    def time(self, url, count, cached=False):
        self.process.stdin.write(json.dumps({"url": url, "count": count, "cached": cached}) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", nargs="?")
    parser.add_argument("after", nargs="?")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=3)
    parser.add_argument(
        "--databases", help="a folder with real.sqlite3 and big.sqlite3 already built (BEFORE's schema)"
    )
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker)
    if not (args.before and args.after):
        parser.error("give the two checkouts: BEFORE AFTER")
    checkouts = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    state = Path(tempfile.mkdtemp(prefix="kb-scale-"))
    try:
        if args.databases:
            source = Path(args.databases)
        else:
            build_databases(checkouts["before"], state)
            source = state
        workers = {}
        for name, root in checkouts.items():
            for size in ("real", "big"):
                copy = state / f"{name}-{size}.sqlite3"
                shutil.copyfile(source / f"{size}.sqlite3", copy)
                workers[name, size] = Worker(root, copy, state)
        print("workers ready", flush=True)
        results = {}
        for round_number in range(args.rounds):
            order = ["before", "after"] if round_number % 2 == 0 else ["after", "before"]
            for label, url in PAGES.items():
                for name in order:
                    for size in ("real", "big"):
                        got = workers[name, size].time(url, args.per_round)
                        results.setdefault((name, size, label), []).extend(got["cpu"])
                        results[name, size, label, "size"] = (got["status"], got["size"])
            for label, url in AFTER_ONLY.items():
                for size in ("real", "big"):
                    got = workers["after", size].time(url, 1)
                    results.setdefault(("after", size, label), []).extend(got["cpu"])
                    results["after", size, label, "size"] = (got["status"], got["size"])
            for label, url in CACHED.items():
                for name in order:
                    for cached in (False, True):
                        got = workers[name, "real"].time(url, args.per_round, cached=cached)
                        results.setdefault((name, "cached" if cached else "built", label), []).extend(got["cpu"])
            print(f"round {round_number + 1}/{args.rounds} done", flush=True)
        for each in workers.values():
            each.close()
    finally:
        shutil.rmtree(state, ignore_errors=True)

    def median(*key):
        values = results.get(key)
        return statistics.median(values) * 1000 if values else None

    def cell(value):
        return f"{value:>9.1f}" if value is not None else f"{'-':>9}"

    def ratio(big, real):
        return f"{big / real:>7.1f}x" if big is not None and real else f"{'-':>8}"

    print(f"\nCPU ms per request, medians of {args.rounds} interleaved rounds x {args.per_round} (page cache off)\n")
    print(f"{'page':<30} {'before':>9} {'before':>9} {'ratio':>8}   {'after':>9} {'after':>9} {'ratio':>8}")
    print(f"{'':<30} {'real':>9} {'100k':>9} {'':>8}   {'real':>9} {'100k':>9}")
    for label in [*PAGES, *AFTER_ONLY]:
        b_real, b_big = median("before", "real", label), median("before", "big", label)
        a_real, a_big = median("after", "real", label), median("after", "big", label)
        print(
            f"{label:<30} {cell(b_real)} {cell(b_big)} {ratio(b_big, b_real)}   {cell(a_real)} {cell(a_big)}"
            f" {ratio(a_big, a_real)}"
        )
    print("\nstatus and bytes on 100k (after):")
    for label in [*PAGES, *AFTER_ONLY]:
        print(f"  {label:<30} {results.get(('after', 'big', label, 'size'))}")
    print("\nReal content, CPU ms per request: built every time against a page-cache hit\n")
    print(f"{'page':<30} {'before built':>13} {'before hit':>11} {'after built':>12} {'after hit':>10}")
    for label in CACHED:
        print(
            f"{label:<30} {median('before', 'built', label):>13.2f} {median('before', 'cached', label):>11.2f}"
            f" {median('after', 'built', label):>12.2f} {median('after', 'cached', label):>10.2f}"
        )


if __name__ == "__main__":
    main()
