"""Running code snippets, each in a clean subprocess with a time limit, by language.

One implementation for the test suite (``tests/test_snippets.py``) and for
``verify_snippets``, which stores each outcome as a ``SnippetRun``:

- ``python``: the program runs in its own interpreter in a temporary directory, with
  an environment stripped of this project's Django and Flask settings. A program with
  a check in ``kb.evidence.snippet_checks`` runs under its driver; any other runs as a script.
  Calling a deprecated API fails the run.
- ``sql``: the statements run against an in-memory SQLite database.
- Any other language has no runner: it is "not run here", never passed.

The versions recorded are those of the distributions the program imports (found
from its ``import`` statements), plus Python's; for SQL, SQLite's.
"""

import ast
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from kb.evidence.snippet_checks import CHECKS, DRIVER_PREAMBLES

RUN_TIMEOUT = 60  # seconds for one snippet
ERROR_LINES = 12  # how much of a failure is kept: the end of a traceback says what went wrong
ERROR_CHARS = 2000
PROGRAM_FILE = "app.py"
DRIVER_FILE = "drive_snippet.py"
SQL_FILE = "snippet.sql"
OK_MARKER = "SNIPPET CHECK PASSED"
# A program that calls a deprecated API fails (warnings raised in other modules are left alone).
STRICT_WARNINGS = ["-W", "error::DeprecationWarning:app", "-W", "error::PendingDeprecationWarning:app"]
PASSED, FAILED, NOT_RUN = "passed", "failed", "not-run"

SQL_DRIVER = """
import sqlite3
import sys

connection = sqlite3.connect(":memory:")
with open(sys.argv[1], encoding="utf-8") as handle:
    script = handle.read()
connection.executescript(script)
print("{marker}")
"""


@dataclass(frozen=True)
class Program:
    """One snippet to run: its code, and the code of the other snippets of its task and subject by language."""

    task: str
    subject: str
    language: str
    code: str
    siblings: dict = field(default_factory=dict)

    @property
    def label(self):
        return f"{self.task}/{self.subject}/{self.language}"


@dataclass
class Outcome:
    outcome: str
    runner: str = ""
    versions: dict = field(default_factory=dict)
    duration_ms: int = 0
    error: str = ""
    output: str = ""

    @property
    def passed(self):
        return self.outcome == PASSED


def as_file(code):
    """The text of a file holding the snippet (the canonical YAML strips the final newline)."""
    return code.rstrip("\n") + "\n"


def clean_environment(directory):
    """The environment without the project's Django or Flask configuration."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "FLASK_", "PYTHON", "DATABASE_", "KB_"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["HOME"] = str(directory)
    return env


def error_excerpt(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-ERROR_LINES:])[-ERROR_CHARS:]


# Versions ------------------------------------------------------------------------------------


def imported_modules(code):
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module.split(".")[0])
    return list(dict.fromkeys(names))


def python_versions(code, subject=""):
    """Distribution name -> version for what ``code`` imports (the subject's own first), then Python."""
    distributions = metadata.packages_distributions()
    found = {}
    for module in [subject.replace("-", "_"), *imported_modules(code)]:
        for name in distributions.get(module, []):
            try:
                found.setdefault(metadata.metadata(name)["Name"], metadata.version(name))
            except metadata.PackageNotFoundError:
                continue
    found["Python"] = platform.python_version()
    return found


# Runners ---------------------------------------------------------------------------------------


def _run(argv, directory, timeout):
    started = time.monotonic()
    try:
        completed = subprocess.run(
            argv, cwd=directory, env=clean_environment(directory), capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as expired:
        elapsed = int((time.monotonic() - started) * 1000)
        stderr = expired.stderr.decode() if isinstance(expired.stderr, bytes) else expired.stderr or ""
        return None, elapsed, f"Timed out after {timeout} s.\n{error_excerpt(stderr)}".strip()
    return completed, int((time.monotonic() - started) * 1000), ""


def _outcome(completed, elapsed, timeout_error, runner, versions):
    if completed is None:
        return Outcome(FAILED, runner, versions, elapsed, timeout_error)
    output = completed.stdout + completed.stderr
    if completed.returncode == 0 and OK_MARKER in completed.stdout:
        return Outcome(PASSED, runner, versions, elapsed, output=output)
    detail = error_excerpt(completed.stderr) or error_excerpt(completed.stdout) or f"exit status {completed.returncode}"
    return Outcome(FAILED, runner, versions, elapsed, detail, output)


def write_python(directory, program):
    """Write the program (and its driver and template files) into ``directory``; return the file to run."""
    directory = Path(directory)
    (directory / PROGRAM_FILE).write_text(as_file(program.code), encoding="utf-8")
    check = CHECKS.get((program.task, program.subject))
    if check is None:
        script = f"import runpy\nrunpy.run_path({PROGRAM_FILE!r}, run_name='__main__')\nprint({OK_MARKER!r})\n"
        (directory / DRIVER_FILE).write_text(script, encoding="utf-8")
        return DRIVER_FILE
    for relative, language in check.files.items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        code = program.siblings.get(language)
        if code is None:
            raise KeyError(f"{program.label}: no {language} snippet to write to {relative}")
        target.write_text(as_file(code), encoding="utf-8")
    preamble = DRIVER_PREAMBLES.get(program.subject, "import app\n")
    driver = textwrap.dedent(preamble) + textwrap.dedent(check.code) + f"\nprint({OK_MARKER!r})\n"
    (directory / DRIVER_FILE).write_text(driver, encoding="utf-8")
    return DRIVER_FILE


def run_python(program, timeout=RUN_TIMEOUT):
    versions = python_versions(program.code, program.subject)
    with tempfile.TemporaryDirectory(prefix="snippet-") as directory:
        try:
            driver = write_python(directory, program)
        except KeyError as error:
            return Outcome(FAILED, "python", versions, 0, str(error.args[0]))
        completed, elapsed, timeout_error = _run([sys.executable, *STRICT_WARNINGS, driver], directory, timeout)
    return _outcome(completed, elapsed, timeout_error, "python", versions)


def run_sql(program, timeout=RUN_TIMEOUT):
    versions = {"SQLite": sqlite3.sqlite_version}
    with tempfile.TemporaryDirectory(prefix="snippet-") as directory:
        (Path(directory) / SQL_FILE).write_text(as_file(program.code), encoding="utf-8")
        (Path(directory) / DRIVER_FILE).write_text(SQL_DRIVER.format(marker=OK_MARKER), encoding="utf-8")
        completed, elapsed, timeout_error = _run([sys.executable, DRIVER_FILE, SQL_FILE], directory, timeout)
    return _outcome(completed, elapsed, timeout_error, "sqlite", versions)


RUNNERS = {"python": run_python, "python3": run_python, "py": run_python, "sql": run_sql}


def has_runner(language):
    return language in RUNNERS


def run(program, timeout=RUN_TIMEOUT):
    """Run ``program`` with its language's runner; a language without one is not run."""
    runner = RUNNERS.get(program.language)
    if runner is None:
        return Outcome(NOT_RUN, "", {}, 0, f"No runner for {program.language} here.")
    return runner(program, timeout=timeout)


def template_files(task, subject):
    """Languages of the snippets a program of ``task`` and ``subject`` writes beside itself (its templates)."""
    check = CHECKS.get((task, subject))
    return list(check.files.values()) if check else []
