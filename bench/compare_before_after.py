"""Two checkouts of the site side by side: the same pages, timed uncached, interleaved, medians.

    .venv/bin/python bench/compare_before_after.py BEFORE_CHECKOUT AFTER_CHECKOUT [--rounds 20]

e.g. a worktree of the code before a change (``git worktree add /tmp/kb-before <commit>``)
against this checkout. Each checkout runs in its own worker process (Django settings are
per process) with its own SQLite database holding the same content: the real content/
files, plus the synthetic 10 subjects x 100 dimensions. The workers run with this
interpreter (its virtualenv must have both checkouts' requirements) and debug off.

Measures, each its own table (wall time per request; and CPU time, ``time.process_time()``, of
the worker process, which includes SQLite's work):

- "page cache emptied": the whole-page cache is emptied before every request, so every
  page is rendered; what a checkout keeps below the page (before the read model:
  kb.comparison.columns, each subject's drawn cells per content generation; after it: the
  read model in the database) stays. A repeat view without a page cache.
- "everything emptied": the kept columns are emptied too (a checkout without them is
  unaffected): the first view of these subjects after a content change, before the read model.
- "after a content change" (CPU): one claim of a compared subject is edited (saved as the admin
  saves it), then the page is timed: the first view after a content change. Before the read
  model the change outdates every kept column; after it, the write rewrote the cells it changed.
- "one admin edit of one claim" (CPU): the save itself, and (after) the cells it rewrote.

Requests carry no Accept-Encoding (so no compression), as before the change; add
``--accept-encoding "br, gzip"`` to time compressed responses too.

Rounds alternate which checkout goes first; in each round each checkout serves every
page a few times. Prints tables of medians; asserts nothing.
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAGES = {
    "Flask vs Django (real content)": "/compare/flask-vs-django/",
    "10 subjects x 100 dimensions": "/compare/" + "-vs-".join(f"synthetic-{n}" for n in range(1, 11)) + "/",
    "Home": "/",
    "A subject (Flask)": "/subjects/flask/",
}


# The worker: one checkout, one process ---------------------------------------------------


def prepare(root):
    """Django set up on ``root``'s code with a fresh database of the benchmark content; a test Client."""
    root = Path(root).resolve()
    state = Path(tempfile.mkdtemp(prefix="kb-before-after-"))
    os.chdir(root)
    sys.path.insert(0, str(root))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "kb.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_INSECURE_HTTP": "1",
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_SECRET_KEY": secrets.token_hex(32),
            "KB_COMPARE_MAX_SUBJECTS": "10",
            "DATABASE_URL": f"sqlite:///{state / 'db.sqlite3'}",
            "KB_CONTENT_CACHE": str(state / "content-cache"),
        }
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from kb.knowledge.synthetic import Size, generate

    call_command("migrate", "--noinput", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    call_command("load_content", str(root / "content"), verbosity=0)
    generate(Size(subjects=10, dimensions=100, seed=1))
    return Client(HTTP_HOST="testserver")  # the site refuses a request without a Host header


def _forget_kept_columns():
    """Empty what this checkout keeps in memory below the page cache (kb.comparison.columns, where it exists)."""
    try:
        from kb.comparison.columns import recent
    except ImportError:
        return
    recent.clear()


def _edit_one_claim(url, number):
    """Save one published claim of the first subject ``url`` compares, as the admin does; (CPU s, cells)."""
    from django.db import transaction

    from kb.knowledge import models as m

    try:  # the read model's checkout: an admin edit is one bulk write (kb.knowledge.signals)
        from kb.comparison import read_model
        from kb.knowledge.signals import bulk_write
    except ImportError:
        read_model, bulk_write = None, transaction.atomic
    slug = url.split("/")[2].split("-vs-")[0]
    claim = m.Claim.objects.filter(subject__slug=slug, status="published").order_by("pk")[7]
    claim.cell = f"Edited for the benchmark, {number}"
    start = time.process_time()
    with bulk_write():
        claim.save()
    spent = time.process_time() - start
    return spent, len(read_model.last.cells) if read_model else None


def worker(root):
    from django.core.cache import cache

    client = prepare(root)
    sizes = {}
    for url in PAGES.values():
        for _ in range(3):  # warm-up: imports, template compilation, connection
            cache.clear()
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        sizes[url] = len(response.content)
    print(json.dumps({"ready": True, "sizes": sizes}), flush=True)
    edits = 0
    for line in sys.stdin:
        request = json.loads(line)
        headers = {"HTTP_ACCEPT_ENCODING": request["encoding"]} if request["encoding"] else {}
        times, cpu, cells = [], [], []
        for _ in range(request["count"]):
            cache.clear()
            if request["cold"]:
                _forget_kept_columns()
            if request.get("change"):
                edits += 1
                spent, rewritten = _edit_one_claim(request["url"], edits)
                cache.clear()
                if request.get("edit_only"):
                    cpu.append(spent)
                    cells.append(rewritten)
                    times.append(spent)
                    continue
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(request["url"], **headers)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            assert response.status_code == 200
        print(json.dumps({"times": times, "cpu": cpu, "cells": cells}), flush=True)


class Worker:
    def __init__(self, root):
        self.root = root
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.sizes = json.loads(self.process.stdout.readline())["sizes"]

    def time(self, url, count, cold, encoding, **extra):
        """{"times": [s], "cpu": [s], "cells": [rewritten]} of ``count`` requests (or edits)."""
        request = {"url": url, "count": count, "cold": cold, "encoding": encoding, **extra}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


# The comparison --------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", nargs="?")
    parser.add_argument("after", nargs="?")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=3, help="requests per page per checkout in a round")
    parser.add_argument("--accept-encoding", default="", help='e.g. "br, gzip": time compressed responses')
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    if not (args.before and args.after):
        parser.error("give the two checkouts: BEFORE AFTER")

    print(f"before: {args.before}\nafter:  {args.after}\nsetting up both (content load, synthetic data)...", flush=True)
    workers = {"before": Worker(args.before), "after": Worker(args.after)}
    modes = {"page cache emptied": False, "everything emptied": True}
    times = {(mode, name, url): [] for mode in modes for name in workers for url in PAGES.values()}
    cpu = {(mode, name, url): [] for mode in (*modes, "after a content change") for name in workers for url in PAGES}
    compared = {label: url for label, url in PAGES.items() if url.startswith("/compare/")}
    edits = {name: {"cpu": [], "cells": []} for name in workers}
    try:
        for round_number in range(args.rounds):
            order = ["before", "after"] if round_number % 2 == 0 else ["after", "before"]
            for mode, cold in modes.items():
                for label, url in PAGES.items():
                    for name in order:
                        found = workers[name].time(url, args.per_round, cold, args.accept_encoding)
                        times[mode, name, url] += found["times"]
                        cpu[mode, name, label] += found["cpu"]
            for label, url in compared.items():
                for name in order:
                    found = workers[name].time(url, args.per_round, False, args.accept_encoding, change=True)
                    cpu["after a content change", name, label] += found["cpu"]
            for name in order:
                found = workers[name].time(compared["Flask vs Django (real content)"], 1, False, "", change=True,
                                           edit_only=True)  # fmt: skip
                edits[name]["cpu"] += found["cpu"]
                edits[name]["cells"] += found["cells"]
    finally:
        for each in workers.values():
            each.close()

    print(f"\nCPU time (time.process_time()), medians of {args.rounds} interleaved rounds")
    for mode, labels in (
        ("after a content change", compared),
        ("everything emptied", compared),
        ("page cache emptied", PAGES),
    ):
        print(f"\n{mode}\n")
        print(f"{'page':<34} {'before':>10} {'after':>10} {'after/before':>13}")
        for label in labels:
            before = statistics.median(cpu[mode, "before", label]) * 1000
            after = statistics.median(cpu[mode, "after", label]) * 1000
            print(f"{label:<34} {before:>8.2f}ms {after:>8.2f}ms {after / before:>13.2f}")
    print("\none admin edit of one claim (Flask's), CPU of the save\n")
    for name in workers:
        cells = [count for count in edits[name]["cells"] if count is not None]
        rewritten = f", cells rewritten: median {statistics.median(cells)}, max {max(cells)}" if cells else ""
        print(f"{name:<8} {statistics.median(edits[name]['cpu']) * 1000:>8.2f}ms{rewritten}")

    encoding = f"Accept-Encoding: {args.accept_encoding}" if args.accept_encoding else "no Accept-Encoding"
    print(f"\nMedians of {args.rounds} interleaved rounds x {args.per_round} requests per checkout and page")
    print(f"({encoding})")
    for mode in modes:
        print(f"\n{mode}\n")
        print(f"{'page':<34} {'before':>10} {'after':>10} {'after/before':>13} {'HTML before':>12} {'HTML after':>11}")
        for label, url in PAGES.items():
            before = statistics.median(times[mode, "before", url]) * 1000
            after = statistics.median(times[mode, "after", url]) * 1000
            print(
                f"{label:<34} {before:>8.2f}ms {after:>8.2f}ms {after / before:>13.2f}"
                f" {workers['before'].sizes[url]:>12,} {workers['after'].sizes[url]:>11,}"
            )


if __name__ == "__main__":
    main()
