"""A bounded HTTP load generator for bench/load: asyncio, raw HTTP/1.1 keep-alive, no dependencies.

It talks only to 127.0.0.1. It first reads the live site (home page, sitemap, JSON
exports) to build its URL mix from real slugs, then runs ``--clients`` concurrent
keep-alive clients until ``--duration`` seconds have passed or ``--max-requests``
requests were sent, whichever comes first, and prints requests per second,
latency percentiles and errors, overall and per kind of URL. Exit status 1 when
any request failed (a status other than 2xx/3xx, a timeout, a connection error).

    python bench/loadgen.py --base http://127.0.0.1:8000 [--clients 50] [--duration 20]
"""

import argparse
import asyncio
import json
import math
import random
import re
import sys
import time
from collections import Counter, defaultdict
from urllib.parse import urlencode, urlsplit

# Kinds of request and their share of the traffic.
MIX = {
    "compare": 22,
    "compare-filtered": 16,
    "search": 14,
    "export-json": 8,
    "export-csv": 6,
    "static": 14,
    "subject": 8,
    "claim": 7,
    "other-page": 5,
}
SEARCH_TERMS = [
    "template",
    "orm",
    "async",
    "admin interface",
    "jinja",
    "routing",
    "security",
    "django flask",
    "websocket",
    "migrations",
    "werkzeug",
    "sqlalchemy session",
    "no-such-word-anywhere",
]
SUPPORT_LEVELS = ["built-in", "extension", "partial", "not-provided", "not-applicable", "unknown"]
MAX_COMPARED = 8  # KB_COMPARE_MAX_SUBJECTS's default; discovery exports chunks this size
USER_AGENT = "kb-loadgen/1"


class HTTPError(Exception):
    """The server broke the protocol or closed the connection; ``fresh`` says no byte of a response came."""

    def __init__(self, message, fresh=False):
        super().__init__(message)
        self.fresh = fresh


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None
        self.used = 0

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.used = 0

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self, path):
        """(status, headers, body) of GET path; reconnects when needed."""
        if self.writer is None:
            await self.open()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Accept: */*\r\nAccept-Encoding: gzip, br\r\nConnection: keep-alive\r\n\r\n"
        )
        self.writer.write(request.encode("latin-1"))
        await self.writer.drain()
        try:
            status_line = await self.reader.readline()
        except (ConnectionResetError, BrokenPipeError) as error:
            raise HTTPError(f"{type(error).__name__} before the response", fresh=True) from None
        if not status_line:
            raise HTTPError("connection closed before the response", fresh=True)
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HTTPError(f"bad status line {status_line[:60]!r}")
        status = int(parts[1])
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise HTTPError("connection closed in the headers")
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body = await self.reader.read()  # delimited by the end of the connection
            headers["connection"] = "close"
        self.used += 1
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    async def _chunked(self):
        chunks = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


class Stats:
    def __init__(self):
        self.latencies = defaultdict(list)
        self.bytes = Counter()
        self.errors = Counter()  # (kind of error, url kind)
        self.error_examples = {}
        self.statuses = Counter()
        self.retries = 0
        self.warmup_errors = Counter()

    def ok(self, kind, seconds, size, status):
        self.latencies[kind].append(seconds)
        self.bytes[kind] += size
        self.statuses[status] += 1

    def error(self, what, kind, path):
        self.errors[what, kind] += 1
        self.error_examples.setdefault(what, path)

    @property
    def error_count(self):
        return sum(self.errors.values())


async def fetch(connection, path, timeout, stats=None):
    """GET with one retry when a reused keep-alive connection turns out closed (as browsers and urllib3 do)."""
    for attempt in (1, 2):
        reused = connection.writer is not None and connection.used > 0
        try:
            return await asyncio.wait_for(connection.get(path), timeout)
        except HTTPError as error:
            connection.close()
            if error.fresh and reused and attempt == 1:
                if stats is not None:
                    stats.retries += 1
                continue
            raise
        except BaseException:
            connection.close()
            raise
    raise AssertionError("unreachable")


# Discovering the site ------------------------------------------------------------------


async def discover(host, port, timeout, rng):
    """URLs by kind, built from what the live site publishes."""
    connection = Connection(host, port)

    async def get(path, expect=200):
        try:
            status, headers, body = await fetch(connection, path, timeout)
        except (TimeoutError, OSError, HTTPError, asyncio.IncompleteReadError) as error:
            raise SystemExit(f"discovery: GET {path} failed: {type(error).__name__} {error}") from None
        if status != expect:
            raise SystemExit(f"discovery: GET {path} answered {status}, expected {expect}")
        return headers, body

    _, home = await get("/")
    static = sorted(set(re.findall(r'(?:href|src)="(/static/[^"?#]+)"', home.decode())))
    _, sitemap = await get("/sitemap.xml")
    paths = [urlsplit(loc).path for loc in re.findall(r"<loc>([^<]+)</loc>", sitemap.decode())]
    by_prefix = defaultdict(list)
    for path in paths:
        by_prefix[path.strip("/").split("/")[0]].append(path)
    subjects = [path.strip("/").split("/")[1] for path in by_prefix["subjects"] if path.count("/") == 3]
    if len(subjects) < 2:
        raise SystemExit("discovery: the sitemap lists fewer than two subjects; is content loaded?")

    kinds, groups, sources = {}, set(), set()
    for start in range(0, len(subjects), MAX_COMPARED):
        chunk = subjects[start : start + MAX_COMPARED]
        if len(chunk) < 2:
            chunk = subjects[-2:]
        _, body = await get(f"/compare/{'-vs-'.join(chunk)}.json")
        data = json.loads(body)
        kinds.update({subject["slug"]: subject["kind"] for subject in data["subjects"]})
        groups.update(row["group"]["slug"] for row in data["rows"])
        sources.update(source["slug"] for source in data.get("sources", []) if isinstance(source, dict))
    connection.close()

    by_kind = defaultdict(list)
    for slug, kind in kinds.items():
        by_kind[kind].append(slug)
    comparable = [slugs for slugs in by_kind.values() if len(slugs) >= 2] or [subjects]

    def comparison():
        pool = rng.choice(comparable)
        return "-vs-".join(rng.sample(pool, rng.randint(2, min(4, len(pool)))))

    # A fixed pool of comparisons, so that some are served from the page cache and some are not.
    pool = [comparison() for _ in range(300)]
    groups = sorted(groups)
    sources = sorted(sources)

    def filtered(spec):
        params = {}
        choice = rng.randrange(5)
        if choice == 0 and groups:
            params["group"] = rng.choice(groups)
        elif choice == 1:
            params["support"] = rng.choice(SUPPORT_LEVELS)
        elif choice == 2:
            params["only_differences"] = "1"
        elif choice == 3:
            params["only_contested"] = "1"
        else:
            params.update({"only_differences": "1", "support": rng.choice(SUPPORT_LEVELS)})
            if sources:
                params["source"] = rng.choice(sources)
        return f"/compare/{spec}/?{urlencode(params)}"

    other = [p for prefix in ("", "compare", "dimensions", "sources", "snippets") for p in by_prefix[prefix]]
    other += ["/", "/subjects/", "/dimensions/", "/sources/", "/snippets/", "/sitemap.xml", "/feeds/claims/"]
    urls = {
        "compare": [f"/compare/{spec}/" for spec in pool],
        "compare-filtered": [filtered(spec) for spec in pool for _ in range(2)],
        "search": [f"/search/?{urlencode({'q': term})}" for term in SEARCH_TERMS],
        "export-json": [f"/compare/{spec}.json" for spec in pool[:100]],
        "export-csv": [f"/compare/{spec}.csv" for spec in pool[:100]],
        "static": static,
        "subject": by_prefix["subjects"],
        "claim": by_prefix["claims"],
        "other-page": sorted(set(other)),
    }
    empty = [kind for kind, found in urls.items() if not found]
    if empty:
        raise SystemExit(f"discovery: found no URL of kind {', '.join(empty)}")
    return urls, {"subjects": len(subjects), "groups": len(groups), "static files": len(static)}


# Running the load -------------------------------------------------------------------------


async def client(host, port, urls, kinds, weights, deadline, budget, stats, timeout, rng):
    connection = Connection(host, port)
    try:
        while time.monotonic() < deadline and budget["left"] > 0:
            budget["left"] -= 1
            kind = rng.choices(kinds, weights)[0]
            path = rng.choice(urls[kind])
            start = time.perf_counter()
            try:
                status, _headers, body = await fetch(connection, path, timeout, stats)
            except TimeoutError:
                stats.error("timeout", kind, path)
                continue
            except (HTTPError, OSError, asyncio.IncompleteReadError, ValueError) as error:
                stats.error(f"connection error ({type(error).__name__})", kind, path)
                continue
            elapsed = time.perf_counter() - start
            if 200 <= status < 400:
                stats.ok(kind, elapsed, len(body), status)
            else:
                stats.error(f"HTTP {status}", kind, path)
    finally:
        connection.close()


async def wait_until_up(host, port, seconds):
    deadline = time.monotonic() + seconds
    while True:
        connection = Connection(host, port)
        try:
            status, _, _ = await fetch(connection, "/robots.txt", 5)
            if status == 200:
                return
        except (OSError, HTTPError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            connection.close()
        if time.monotonic() > deadline:
            raise SystemExit(f"the site on {host}:{port} did not answer within {seconds} s")
        await asyncio.sleep(0.2)


async def run(args):
    parts = urlsplit(args.base)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1" or not parts.port:
        raise SystemExit("--base must be http://127.0.0.1:PORT (this tool only loads the local loopback)")
    host, port = parts.hostname, parts.port
    rng = random.Random(args.seed)
    await wait_until_up(host, port, args.wait)
    urls, found = await discover(host, port, max(args.timeout, 30), rng)
    print(
        f"site {args.base}: {found['subjects']} subjects, {found['groups']} dimension groups, "
        f"{found['static files']} static files; URL pool: "
        + ", ".join(f"{kind} {len(paths)}" for kind, paths in urls.items()),
        flush=True,
    )

    kinds = list(MIX)
    weights = [MIX[kind] for kind in kinds]
    stats = Stats()
    if args.warmup > 0:  # fill the workers' caches and connections; not counted
        warm_end = time.monotonic() + args.warmup
        warm = Stats()
        await asyncio.gather(
            *(
                client(host, port, urls, kinds, weights, warm_end, {"left": 10**9}, warm, args.timeout, rng)
                for _ in range(args.clients)
            )
        )
        stats.warmup_errors = warm.errors
    print(
        f"running {args.clients} clients for {args.duration:g} s (at most {args.max_requests:,} requests)...",
        flush=True,
    )
    budget = {"left": args.max_requests}
    start = time.monotonic()
    deadline = start + args.duration
    clients = [
        client(host, port, urls, kinds, weights, deadline, budget, stats, args.timeout, random.Random(rng.random()))
        for _ in range(args.clients)
    ]
    try:
        # Every request is bounded by --timeout, so this only guards against a bug in this tool.
        await asyncio.wait_for(asyncio.gather(*clients), args.duration + 2 * args.timeout + 10)
    except TimeoutError:
        stats.error("load generator overran its deadline", "-", "-")
    elapsed = time.monotonic() - start
    return report(stats, elapsed, args)


def percentile(ordered, fraction):
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def ms(seconds):
    return f"{seconds * 1000:8.1f}"


def report(stats, elapsed, args):
    every = sorted(latency for latencies in stats.latencies.values() for latency in latencies)
    done = len(every)
    total = done + stats.error_count
    print()
    print(f"duration            {elapsed:10.1f} s   ({args.clients} concurrent keep-alive clients)")
    print(f"requests            {total:10,d}")
    print(f"requests/s          {total / elapsed:10,.1f}")
    print(f"p50 latency         {ms(percentile(every, 0.50))} ms")
    print(f"p90 latency         {ms(percentile(every, 0.90))} ms")
    print(f"p99 latency         {ms(percentile(every, 0.99))} ms")
    print(f"max latency         {ms(every[-1] if every else float('nan'))} ms")
    print(f"statuses            {', '.join(f'{code}: {n:,}' for code, n in sorted(stats.statuses.items()))}")
    print(f"keep-alive retries  {stats.retries:10,d}   (a reused connection closed by the server; retried once)")
    print(f"errors              {stats.error_count:10,d}")
    by_what = Counter()
    for (what, _kind), count in stats.errors.items():
        by_what[what] += count
    for what, count in by_what.most_common():
        print(f"  {what:<40} {count:8,d}   e.g. {stats.error_examples.get(what, '')}")
    print()
    header = f"{'kind':<18}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    print(header + f"{'avg KiB':>9}{'errors':>8}")
    print("-" * (len(header) + 17))
    errors_by_kind = Counter()
    for (_what, kind), count in stats.errors.items():
        errors_by_kind[kind] += count
    for kind in MIX:
        latencies = sorted(stats.latencies.get(kind, []))
        count = len(latencies) + errors_by_kind[kind]
        average = stats.bytes[kind] / len(latencies) / 1024 if latencies else 0
        print(
            f"{kind:<18}{count:>10,d}{count / elapsed:>9.1f}{ms(percentile(latencies, 0.5)):>9}"
            f"{ms(percentile(latencies, 0.9)):>9}{ms(percentile(latencies, 0.99)):>9}"
            f"{ms(latencies[-1] if latencies else float('nan')):>9}{average:>9.1f}{errors_by_kind[kind]:>8,d}"
        )
    if args.json:
        summary = {
            "clients": args.clients,
            "seconds": elapsed,
            "requests": total,
            "requests_per_second": total / elapsed,
            "p50_ms": percentile(every, 0.5) * 1000,
            "p90_ms": percentile(every, 0.9) * 1000,
            "p99_ms": percentile(every, 0.99) * 1000,
            "max_ms": (every[-1] if every else 0) * 1000,
            "errors": stats.error_count,
            "errors_by_kind": {what: n for what, n in by_what.items()},
            "keepalive_retries": stats.retries,
        }
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=2)
    failures = stats.error_count + sum(stats.warmup_errors.values())
    if stats.warmup_errors:
        print(f"\nerrors during the warm-up: {dict(stats.warmup_errors)}")
    print()
    print("errors: 0 (pass)" if failures == 0 else f"errors: {failures} (FAIL)")
    return 0 if failures == 0 else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of measured load (default 20)")
    parser.add_argument("--max-requests", type=int, default=500_000, help="stop after this many requests")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load first (default 2)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds allowed per request (default 10)")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the site to answer")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the summary figures to this file")
    args = parser.parse_args()
    if not (1 <= args.clients <= 1000 and 0 < args.duration <= 3600 and args.max_requests > 0):
        parser.error("--clients 1..1000, --duration 0..3600 s, --max-requests > 0")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
