"""Two checkouts of the site side by side: the same pages, timed uncached, interleaved, medians.

    .venv/bin/python bench/compare_before_after.py BEFORE_CHECKOUT AFTER_CHECKOUT [--rounds 20]

e.g. a worktree of the code before a change (``git worktree add /tmp/kb-before <commit>``)
against this checkout. Each checkout runs in its own worker process (Django settings are
per process) with its own SQLite database holding the same content: the real content/
files, plus the synthetic 10 subjects x 100 dimensions. The workers run with this
interpreter (its virtualenv must have both checkouts' requirements) and debug off.

Two measures, each its own table:

- "page cache emptied": the whole-page cache is emptied before every request, so every
  page is rendered; what a checkout keeps below the page (kb.comparison.columns: each
  subject's drawn cells, per content generation) stays. This is a reader opening a
  comparison nobody opened since the last content change, of subjects others have viewed.
- "everything emptied": the kept columns are emptied too (a checkout without them is
  unaffected): the first view of these subjects after a content change.

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
    """Empty what this checkout keeps below the page cache (nothing, before kb.comparison.columns)."""
    try:
        from kb.comparison.columns import recent
    except ImportError:
        return
    recent.clear()


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
    for line in sys.stdin:
        request = json.loads(line)
        headers = {"HTTP_ACCEPT_ENCODING": request["encoding"]} if request["encoding"] else {}
        times = []
        for _ in range(request["count"]):
            cache.clear()
            if request["cold"]:
                _forget_kept_columns()
            start = time.perf_counter()
            response = client.get(request["url"], **headers)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200
        print(json.dumps({"times": times}), flush=True)


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

    def time(self, url, count, cold, encoding):
        request = {"url": url, "count": count, "cold": cold, "encoding": encoding}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())["times"]

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
    try:
        for round_number in range(args.rounds):
            order = ["before", "after"] if round_number % 2 == 0 else ["after", "before"]
            for mode, cold in modes.items():
                for url in PAGES.values():
                    for name in order:
                        times[mode, name, url] += workers[name].time(url, args.per_round, cold, args.accept_encoding)
    finally:
        for each in workers.values():
            each.close()

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
