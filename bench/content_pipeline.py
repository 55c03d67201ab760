"""The editors' pipeline at scale: export_content and load_content with 100,000 claims, timed and weighed.

    .venv/bin/python bench/content_pipeline.py [CHECKOUT ...] [--subjects 500 --dimensions 200] [--cap 1800]

For each checkout (default: this one; e.g. a worktree of the code before a change,
``git worktree add /tmp/kb-before-sync 1eaf68d``), on a fresh SQLite database of its own:

1. ``generate_synthetic --subjects 500 --dimensions 200`` (100,000 claims);
2. ``export_content OUT``;
3. ``load_content OUT``: the database's own export, which must write nothing;
4. one claim's cell edited in OUT, then ``load_content OUT``, which must write that claim only;
5. the last claim of a claims file deleted, then ``load_content OUT``: the claim and its evidence deleted;
6. the evidence entry quoting the last excerpt of a source deleted, then ``load_content OUT``;
7. that excerpt (quoted by nobody now) deleted from its source, then ``load_content OUT``.

Each deletion takes a record that ends its list, so no other record changes its position: a load
that deletes must write what it deletes and nothing else.

Each command runs in a child process of this checkout's interpreter; the script prints its
wall time, its peak memory (the child's maximum resident set) and, for the loads, the rows
they wrote: history rows added (one per record created, updated or deleted) and the load's
own report. A step slower than ``--cap`` seconds is stopped and shown as "> cap". The
targets (issue 20): each load <= 30 s, export <= 60 s, each <= 400 MB. Asserts nothing.
"""

import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

COUNT_HISTORY = """
from django.apps import apps
print(sum(model.objects.count() for model in apps.get_models() if model.__name__.startswith("Historical")))
"""


def env_for(state):
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "kb.settings",
            "DJANGO_DEBUG": "1",
            "DJANGO_SECRET_KEY": secrets.token_hex(32),
            "DATABASE_URL": f"sqlite:///{state / 'db.sqlite3'}",
            "KB_CONTENT_CACHE": str(state / "content-cache"),  # only the code before issue 20 has a parse cache
        }
    )
    env.pop("REDIS_URL", None)
    return env


def run(checkout, env, args, cap=None, stdin=None):
    """Run ``manage.py ARGS`` in ``checkout``; (seconds or None when capped, peak MB, output)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [PYTHON, "manage.py", *args],
        cwd=checkout,
        env=env,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if stdin:
        child.stdin.write(stdin)
        child.stdin.close()
    deadline = started + cap if cap else None
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if deadline and time.perf_counter() > deadline:
            child.kill()
            pid, status, usage = os.wait4(child.pid, 0)
            return None, usage.ru_maxrss / 1024, child.stdout.read()
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    output = child.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed in {checkout}:\n{output[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, output


def history_rows(checkout, env):
    return int(run(checkout, env, ["shell", "-c", COUNT_HISTORY])[2].strip().splitlines()[-1])


def edit_one_cell(out):
    """Change the cell of the first claim of the first synthetic subject's file."""
    path = sorted((out / "claims").glob("synthetic-*.yaml"))[0]
    text = path.read_text(encoding="utf-8")
    new, count = re.subn(r"^  cell: (.*)$", r"  cell: \1 (edited)", text, count=1, flags=re.M)
    assert count == 1, path
    path.write_text(new, encoding="utf-8")
    return path


def cut_last_record(path):
    """Delete the last record of a YAML list file (a claims file, or a source's excerpts)."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.rindex("\n- key: ") + 1], encoding="utf-8")


def delete_last_claim(out):
    cut_last_record(sorted((out / "claims").glob("synthetic-*.yaml"))[0])


def last_excerpt(out):
    """(the first synthetic source's file, its last excerpt as evidence names it)."""
    path = sorted((out / "sources").glob("synthetic-*.yaml"))[0]
    key = re.findall(r"^- key: (.*)$", path.read_text(encoding="utf-8"), flags=re.M)[-1]
    return path, f"{path.stem}/{key}"


def delete_evidence_of(out, excerpt):
    """Delete the evidence entry quoting ``excerpt`` (and the claim's ``evidence:`` when it was the only one)."""
    entry = re.compile(rf"^  - excerpt: {re.escape(excerpt)}\n(?:    .*\n)*", flags=re.M)
    for path in sorted((out / "claims").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        new, count = entry.subn("", text)
        if count:
            path.write_text(re.sub(r"^  evidence:\n(?!  - )", "", new, flags=re.M), encoding="utf-8")
            return
    raise AssertionError(f"no evidence quotes {excerpt}")


def load_step(checkout, env, out, args, label):
    """``load_content OUT``, timed and weighed, with the history rows it wrote; printed on one line."""
    before = history_rows(checkout, env)
    seconds, peak, output = run(checkout, env, ["load_content", str(out)], cap=args.cap)
    written = history_rows(checkout, env) - before if seconds else "?"
    print(f"{label:<42} {shown(seconds, args.cap):>10}  {peak:7.0f} MB  "
          f"history rows written: {written}; {summary(output) if seconds else ''}", flush=True)  # fmt: skip
    return seconds, peak, written


def shown(seconds, cap):
    return f"> {cap:.0f} s" if seconds is None else f"{seconds:.1f} s"


def summary(output):
    """The load's own report lines for the records it wrote."""
    lines = [line for line in output.splitlines() if re.search(r": \d+ created, \d+ updated", line)]
    busy = [line for line in lines if not re.search(r": 0 created, 0 updated, 0 deleted", line)]
    return "; ".join(busy) or "nothing created, updated or deleted"


def bench(checkout, args):
    checkout = Path(checkout).resolve()
    state = Path(tempfile.mkdtemp(prefix="kb-bench-pipeline-"))
    env = env_for(state)
    out = state / "out"
    print(f"\n== {checkout} (git {_commit(checkout)})", flush=True)
    run(checkout, env, ["migrate", "--noinput", "-v", "0"])
    seconds, _, _ = run(checkout, env, ["generate_synthetic", "--subjects", str(args.subjects), "--dimensions",
                                        str(args.dimensions), "-v", "0"])  # fmt: skip
    print(f"generate_synthetic: {seconds:.1f} s", flush=True)
    results = {}
    seconds, peak, output = run(checkout, env, ["export_content", str(out)], cap=args.cap)
    results["export_content"] = (seconds, peak, output.strip().splitlines()[-1:] if seconds else "")
    print(f"{'export_content:':<42} {shown(seconds, args.cap):>10}  {peak:7.0f} MB", flush=True)
    if seconds is None:
        return results
    results["load of its own export"] = load_step(checkout, env, out, args, "load_content of its own export:")
    edit_one_cell(out)
    results["load after one edit"] = load_step(checkout, env, out, args, "load_content after one edit:")
    delete_last_claim(out)
    results["load after deleting one claim"] = load_step(checkout, env, out, args, "load after deleting one claim:")
    source, excerpt = last_excerpt(out)
    delete_evidence_of(out, excerpt)
    results["load after deleting one evidence entry"] = load_step(
        checkout, env, out, args, "load after deleting one evidence entry:"
    )
    cut_last_record(source)
    results["load after deleting an unquoted excerpt"] = load_step(
        checkout, env, out, args, "load after deleting an unquoted excerpt:"
    )
    return results


def _commit(checkout):
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True)
    return result.stdout.strip() or "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="*", default=[str(HERE)])
    parser.add_argument("--subjects", type=int, default=500)
    parser.add_argument("--dimensions", type=int, default=200)
    parser.add_argument("--cap", type=float, default=1800, help="seconds after which a step is stopped")
    args = parser.parse_args()
    print(f"{args.subjects} subjects x {args.dimensions} dimensions = {args.subjects * args.dimensions:,} claims; "
          f"targets: loads <= 30 s, export <= 60 s, each <= 400 MB")  # fmt: skip
    for checkout in args.checkouts:
        bench(checkout, args)


if __name__ == "__main__":
    main()
