"""The main text of an HTML page, extracted by trafilatura in a child process with limits.

A page to capture is other people's markup, and some markup costs lxml (libxml2, inside
trafilatura) minutes of CPU: one element with 100,000 attributes (its duplicate-attribute
check is quadratic), or 250,000 paragraphs. So the web process never parses it: a child
(``python -m kb.evidence.html_sandbox``) sets its own limits with ``resource.setrlimit``
before it imports the parser (CPU seconds, address space), reads the page on standard input
and writes the text on standard output; the parent waits at most ``WALL_SECONDS`` and kills it
after that. Whatever goes wrong in the child (a limit, a crash, an extractor bug) is an
``ExtractionError`` with a message for a person, never an exception the web worker did not expect.

This module imports nothing of Django or of the site, so the child starts quickly.
"""

import os
import resource
import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

CPU_SECONDS = 5  # a long article takes well under a second
WALL_SECONDS = 10  # the child's start (about half a second) included
MEMORY_BYTES = 1024 * 1024 * 1024  # address space: the interpreter, lxml and the tree of a 5 MB page
NO_TEXT = 3  # the child's exit status when the page has no main text
ROOT = Path(__file__).resolve().parent.parent.parent
CHILD = [sys.executable, "-m", "kb.evidence.html_sandbox"]


class ExtractionError(Exception):
    """The page could not be extracted; the message says why, for a person."""


def extractor_name():
    return f"trafilatura {version('trafilatura')}"


def extract_html(html, what):
    """The main text of ``html`` (a str), extracted in a child process within the limits above."""
    try:
        done = subprocess.run(
            [*CHILD, str(CPU_SECONDS), str(MEMORY_BYTES)],
            input=html.encode("utf-8", "surrogatepass"),
            capture_output=True,
            timeout=WALL_SECONDS,
            cwd=ROOT,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"},
        )
    except subprocess.TimeoutExpired:
        raise ExtractionError(
            f"Extracting the text of {what} took longer than {WALL_SECONDS} s, so it was stopped: "
            "the page is too large or too complex to capture. Paste its text instead."
        ) from None
    if done.returncode == 0:
        return done.stdout.decode("utf-8")
    if done.returncode == NO_TEXT:
        raise ExtractionError(f"No main text could be extracted from {what}.")
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise ExtractionError(
            f"Extracting the text of {what} needed more than {CPU_SECONDS} s of CPU time, so it was stopped: "
            "the page is too large or too complex to capture (thousands of attributes on one element, or "
            "hundreds of thousands of elements). Paste its text instead."
        )
    last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
    if "MemoryError" in last:
        raise ExtractionError(
            f"Extracting the text of {what} needed more than {MEMORY_BYTES // 2**20} MB of memory, so it was "
            "stopped: the page is too large or too complex to capture. Paste its text instead."
        )
    raise ExtractionError(f"The text of {what} could not be extracted ({last[:300]}).")


def _child(cpu_seconds, memory_bytes):
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))  # SIGXCPU, then SIGKILL
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    import trafilatura  # after the limits: the parser never runs without them

    html = sys.stdin.buffer.read().decode("utf-8", "surrogatepass")
    text = trafilatura.extract(
        html, include_comments=False, include_tables=True, include_links=False, deduplicate=False, favor_recall=True
    )
    if not text or not text.strip():
        return NO_TEXT
    sys.stdout.buffer.write(text.encode("utf-8", "surrogatepass"))
    return 0


if __name__ == "__main__":
    sys.exit(_child(int(sys.argv[1]), int(sys.argv[2])))
