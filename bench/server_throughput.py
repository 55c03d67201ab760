"""Throughput of a cached page: this checkout's server against another commit's, in one run.

    .venv/bin/python bench/server_throughput.py [--before 1eaf68d] [--also COMMIT] [--variant "VAR=VALUE ..."]
        [--seconds 5] [--rounds 6] [--clients 16]

Loads the real content into a scratch SQLite database, starts this checkout's production
server (``python -m kb.ops.server``, as ``make serve`` does) and the ``--before`` commit's
(a temporary ``git worktree``, served as that commit's ``make serve`` served it: gunicorn with its
kb/ops/gunicorn.conf.py, or ``python -m kb.ops.server`` where the commit has it), each ``--also``
commit's the same way and this checkout once more per ``--variant "KB_SERVER_THREADS=2 ..."`` (its
environment so changed), all with production settings on loopback ports, warms every page cache,
then drives each in turn (interleaved rounds, so a busy machine slows all alike) with ``--clients``
keep-alive connections asking for ``--path`` and prints requests per second per round, the medians
and their ratios to the first, with the server's CPU time per request (all its processes, read from
/proc: what a busy machine does not distort). Asserts nothing.
"""

import argparse
import asyncio
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _client(port, path, stop, counts):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    try:
        while time.monotonic() < stop:
            writer.write(request)
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            if not head.startswith(b"http/1.1 200"):
                raise SystemExit(f"{port}: {head[:200]!r}")
            if b"transfer-encoding: chunked" in head:
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    await reader.readexactly(size + 2)
                await reader.readexactly(2)
            else:
                length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            counts[0] += 1
            if b"connection: close" in head:
                return
    finally:
        writer.close()


async def _drive(port, path, seconds, clients):
    counts, stop = [0], time.monotonic() + seconds

    async def client():
        while time.monotonic() < stop:
            try:
                await _client(port, path, stop, counts)
            except (OSError, asyncio.IncompleteReadError):
                counts.append(1)  # a connection the server closed (worker recycled): count and reconnect

    await asyncio.gather(*(client() for _ in range(clients)))
    return counts[0] / seconds


def drive(port, path, seconds, clients):
    return asyncio.run(_drive(port, path, seconds, clients))


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(group):
    """User and system CPU time of a process group (a server and its workers): every live process's, and
    the children's it has reaped (a worker recycled meanwhile)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == group:
            total += sum(int(ticks) for ticks in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICK


def measure(process, port, path, seconds, clients):
    """Requests per second, and server CPU milliseconds per request."""
    cpu = cpu_seconds(process.pid)
    rate = drive(port, path, seconds, clients)
    return rate, (cpu_seconds(process.pid) - cpu) * 1000 / max(rate * seconds, 1)


def start(name, command, cwd, env, port):
    process = subprocess.Popen(
        command, cwd=cwd, env={**env, "KB_SITE_URL": f"http://127.0.0.1:{port}"}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{name} did not start: {shlex.join(command)}") from None
            time.sleep(0.2)
    raise SystemExit(f"{name} did not start within 60 s")


def stop(process):
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def served_by(checkout):
    """What served that checkout in ``make serve``: kb.ops.server where it exists, gunicorn before."""
    return "kb.ops.server" if (checkout / "kb/ops/server.py").exists() else "gunicorn"


def command(checkout, port):
    if served_by(checkout) == "kb.ops.server":
        return [PYTHON, "-m", "kb.ops.server"]
    return [str(ROOT / ".venv/bin/gunicorn"), "kb.wsgi", "-c", "kb/ops/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="1eaf68d", help="the commit to compare with (its make serve)")
    parser.add_argument("--also", action="append", default=[], help="another commit to serve alongside")
    parser.add_argument("--variant", action="append", default=[], help="this checkout with these VAR=VALUE")
    # A page cached by every version: comparisons are not page-cached since 0318665 (built every time).
    parser.add_argument("--path", default="/subjects/flask/")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="kb-server-throughput-"))
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_INSECURE_HTTP": "1",
        "DJANGO_SECRET_KEY": "server-throughput-" + os.urandom(16).hex(),
        "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
        "GUNICORN_ACCESS_LOG": "/dev/null",  # both servers log every request; neither to a terminal
        "GUNICORN_CONTROL_SOCKET": "",
    }
    processes = {}
    try:
        for commit in (args.before, *args.also):
            checkout = scratch / commit
            subprocess.run(["git", "worktree", "add", "--detach", str(checkout), commit], cwd=ROOT, check=True)
            shutil.copytree(ROOT / "staticfiles", checkout / "staticfiles")
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([PYTHON, "manage.py", "load_content", "content/"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        servers = {}
        runs = [(args.before, scratch / args.before, {})] + [(c, scratch / c, {}) for c in args.also]
        runs += [("now", ROOT, {})] + [(v, ROOT, dict(a.split("=", 1) for a in v.split())) for v in args.variant]
        for name, checkout, changes in runs:
            port = free_port()
            served = {**env, **changes, "KB_SERVER_LISTEN": f"127.0.0.1:{port}"}
            servers[f"{name} ({served_by(checkout)})"] = (
                start(name, command(checkout, port), checkout, served, port),
                port,
            )
        processes = {name: process for name, (process, _) in servers.items()}
        for _, port in servers.values():
            drive(port, args.path, 3, args.clients)  # every worker's page cache warm
        results = {name: [] for name in servers}
        for round_number in range(1, args.rounds + 1):
            for name, (process, port) in servers.items():
                results[name].append(measure(process, port, args.path, args.seconds, args.clients))
            print(
                f"round {round_number}: "
                + ", ".join(f"{n}: {r[-1][0]:,.0f} req/s {r[-1][1]:.2f} ms CPU" for n, r in results.items()),
                flush=True,
            )
        rates = {name: statistics.median(rate for rate, _ in values) for name, values in results.items()}
        cpus = {name: statistics.median(cpu for _, cpu in values) for name, values in results.items()}
        first = next(iter(servers))
        print(
            f"\nmedians of {args.rounds} interleaved rounds of {args.seconds:g} s, {args.clients} clients, {args.path}"
        )
        for name in servers:
            print(
                f"{name}: {rates[name]:,.0f} req/s ({rates[name] / rates[first]:.2f} x the first), "
                f"{cpus[name]:.2f} ms server CPU per request ({cpus[name] / cpus[first]:.2f} x)"
            )
    finally:
        for process in processes.values():
            stop(process)
        for commit in (args.before, *args.also):
            subprocess.run(["git", "worktree", "remove", "--force", str(scratch / commit)], cwd=ROOT, check=False)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
