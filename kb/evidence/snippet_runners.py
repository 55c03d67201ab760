"""Running code snippets, each in a clean subprocess with a time limit, where its subject runs.

One implementation for the test suite (``tests/test_snippets.py``) and for ``verify_snippets``.
Nothing here knows a compared subject: what runs a snippet, and what it must do, is content.

- A subject names a runner for each language of its snippets (``SubjectRunner``: ``python``,
  ``sqlite``, ``duckdb``, ``postgresql``) and may give a **driver**: Python that prepares what
  a check needs (imports the program as ``app`` and makes a test client, say).
- A snippet may carry a **check**: Python assertions about what the program did. The driver
  and the check run after the snippet, in the same subprocess, never in the web process.
- A snippet with a ``path`` (a template, say) is a file of its task and subject's program: it is
  written there when the program runs, and has no run of its own.
- ``python``: the program is ``app.py`` in a temporary directory, run by its own interpreter in an
  environment stripped of this project's settings; without driver and check it runs as a script.
  Calling a deprecated API fails the run.
- ``sqlite``, ``duckdb``: the statements run against an in-memory database, then driver and check
  with ``connection`` in scope. ``postgresql``: the same, in a transaction rolled back at its end,
  on the server in ``KB_SNIPPET_POSTGRES_URL``; with none configured the snippet is "not run here".
- A language the subject names no runner for is "not run here", never passed.

A run reports the versions it really ran with: for Python, the distributions the program, driver
and check import (the subject's own first) and Python's; for SQL, the engine the subprocess used.
"""

import ast
import hashlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from django.conf import settings

RUN_TIMEOUT = 60  # seconds for one snippet
ERROR_LINES = 12  # how much of a failure is kept: the end of a traceback says what went wrong
ERROR_CHARS = 2000
PROGRAM_FILE = "app.py"
DRIVER_FILE = "drive_snippet.py"
SQL_FILE = "snippet.sql"
OK_MARKER = "SNIPPET CHECK PASSED"
ENGINE_MARKER = "SNIPPET ENGINE "
POSTGRES_URL_VARIABLE = "SNIPPET_POSTGRES_URL"  # how the subprocess gets the server's address
# A program that calls a deprecated API fails (warnings raised in other modules are left alone).
STRICT_WARNINGS = ["-W", "error::DeprecationWarning:app", "-W", "error::PendingDeprecationWarning:app"]
PASSED, FAILED, NOT_RUN = "passed", "failed", "not-run"


@dataclass(frozen=True)
class Piece:
    """One snippet as the runners see it, read from the database or straight from the files."""

    task: str
    subject: str
    language: str
    code: str
    path: str = ""
    check: str = ""
    runnable: bool = True

    @property
    def label(self):
        return f"{self.task}/{self.subject}/{self.language}"


@dataclass(frozen=True)
class Program:
    """What one run needs: the runner, the code, the files beside it, the driver and the check."""

    label: str
    runner: str
    code: str
    driver: str = ""
    check: str = ""
    files: tuple = ()  # (relative path, text) of the snippets written beside the program
    subject: str = ""  # the subject's slug, whose own distribution is named first among the versions

    @property
    def fingerprint(self):
        """SHA-256 of everything that ran: a recorded run matches only the same inputs."""
        inputs = [self.runner, self.driver, self.check, self.code, sorted(self.files)]
        return hashlib.sha256(json.dumps(inputs, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Outcome:
    outcome: str
    runner: str = ""
    versions: list = field(default_factory=list)  # [name, version] pairs, in the order they matter
    duration_ms: int = 0
    error: str = ""
    output: str = ""

    @property
    def passed(self):
        return self.outcome == PASSED


@dataclass(frozen=True)
class Plan:
    """How one snippet gets its run: its own program, as a file of another's, or not at all."""

    piece: Piece
    program: Program | None = None
    file_of: str = ""  # the label of the program that writes this snippet beside itself
    not_run: str = ""  # why it is not run here


def plan_runs(pieces, runners):
    """A Plan per runnable piece. ``runners``: {(subject, language): (runner, driver)} from the subjects' content."""
    pieces = [piece for piece in pieces if piece.runnable]
    files = {}
    for piece in pieces:
        if piece.path:
            files.setdefault((piece.task, piece.subject), []).append((piece.path, as_file(piece.code)))
    plans = []
    programs = {}
    for piece in pieces:
        if piece.path:
            continue
        runner, driver = runners.get((piece.subject, piece.language), ("", ""))
        if not runner:
            plans.append(Plan(piece, not_run=f"the subject names no runner for {piece.language}"))
            continue
        program = Program(
            piece.label, runner, piece.code, driver, piece.check,
            tuple(sorted(files.get((piece.task, piece.subject), []))), piece.subject,
        )  # fmt: skip
        programs[(piece.task, piece.subject)] = program
        plans.append(Plan(piece, program))
    for piece in pieces:
        if piece.path:
            program = programs.get((piece.task, piece.subject))
            if program is None:
                plans.append(Plan(piece, not_run=f"no program of this task and subject is written to run {piece.path}"))
            else:
                plans.append(Plan(piece, program, file_of=program.label))
    return plans


def as_file(code):
    """The text of a file holding the snippet (the canonical YAML strips the final newline)."""
    return code.rstrip("\n") + "\n"


# The only variables a snippet's subprocess inherits: none of this project's settings or secrets.
KEPT_VARIABLES = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT")


def clean_environment(directory):
    """A minimal environment: the locale and search path, nothing of this project's configuration."""
    env = {name: value for name, value in os.environ.items() if name in KEPT_VARIABLES}
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


def python_versions(program):
    """[name, version] of the distributions the program, its driver and check import (the subject's first), Python."""
    distributions = metadata.packages_distributions()
    modules = [program.subject.replace("-", "_")]
    for code in (program.code, program.driver, program.check):
        modules += imported_modules(code)
    found = {}
    for module in modules:
        for name in distributions.get(module, []):
            try:
                found.setdefault(metadata.metadata(name)["Name"], metadata.version(name))
            except metadata.PackageNotFoundError:
                continue
    found["Python"] = platform.python_version()
    return [[name, version] for name, version in found.items()]


def is_pinned(name):
    """Whether ``name`` is a distribution installed here (pinned by the requirements), not the platform's."""
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


# Running ---------------------------------------------------------------------------------------


def _run(argv, directory, timeout, extra_env=None):
    started = time.monotonic()
    try:
        completed = subprocess.run(
            argv, cwd=directory, env={**clean_environment(directory), **(extra_env or {})}, capture_output=True,
            text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as expired:
        elapsed = int((time.monotonic() - started) * 1000)
        stderr = expired.stderr.decode() if isinstance(expired.stderr, bytes) else expired.stderr or ""
        return None, elapsed, f"Timed out after {timeout} s.\n{error_excerpt(stderr)}".strip()
    return completed, int((time.monotonic() - started) * 1000), ""


def _engine(stdout):
    for line in stdout.splitlines():
        if line.startswith(ENGINE_MARKER):
            return [json.loads(line.removeprefix(ENGINE_MARKER))]
    return []


def _outcome(completed, elapsed, timeout_error, runner, versions):
    if completed is None:
        return Outcome(FAILED, runner, versions, elapsed, timeout_error)
    output = completed.stdout + completed.stderr
    versions = versions or _engine(completed.stdout)
    if completed.returncode == 0 and OK_MARKER in completed.stdout:
        return Outcome(PASSED, runner, versions, elapsed, output=output)
    detail = error_excerpt(completed.stderr) or error_excerpt(completed.stdout) or f"exit status {completed.returncode}"
    return Outcome(FAILED, runner, versions, elapsed, detail, output)


def _then_check(program):
    """The subject's driver, then the snippet's check, then the mark of success."""
    return f"{program.driver}\n\n{program.check}\n\nprint({OK_MARKER!r})\n"


def write_python(directory, program):
    """Write the program, its files and its driver into ``directory``; return the file to run."""
    directory = Path(directory)
    (directory / PROGRAM_FILE).write_text(as_file(program.code), encoding="utf-8")
    for relative, text in program.files:
        target = directory / relative
        if not target.resolve().is_relative_to(directory.resolve()):
            raise ValueError(f"{relative!r} is not a path inside the program's folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if program.driver or program.check:
        script = _then_check(program)
    else:  # a script: it runs as itself
        script = f"import runpy\nrunpy.run_path({PROGRAM_FILE!r}, run_name='__main__')\nprint({OK_MARKER!r})\n"
    (directory / DRIVER_FILE).write_text(script, encoding="utf-8")
    return DRIVER_FILE


def run_python(program, timeout=RUN_TIMEOUT):
    versions = python_versions(program)
    with tempfile.TemporaryDirectory(prefix="snippet-") as directory:
        try:
            driver = write_python(directory, program)
        except ValueError as error:
            return Outcome(FAILED, program.runner, versions, error=str(error))
        completed, elapsed, timeout_error = _run([sys.executable, *STRICT_WARNINGS, driver], directory, timeout)
    return _outcome(completed, elapsed, timeout_error, program.runner, versions)


# Each SQL engine: how the subprocess connects (``connection``, ``ENGINE`` = [name, version]) and runs the script.
SQL_ENGINES = {
    "sqlite": (
        "import sqlite3\n"
        "connection = sqlite3.connect(':memory:')\n"
        "ENGINE = ['SQLite', sqlite3.sqlite_version]\n"
        "connection.executescript(SCRIPT)\n"
    ),
    "duckdb": (
        "import duckdb\n"
        "connection = duckdb.connect(':memory:')\n"
        "ENGINE = ['DuckDB', duckdb.__version__]\n"
        "connection.execute(SCRIPT)\n"
    ),
    "postgresql": (
        "import os\n"
        "import psycopg\n"
        f"connection = psycopg.connect(os.environ[{POSTGRES_URL_VARIABLE!r}], connect_timeout=10)\n"
        "ENGINE = ['PostgreSQL', connection.execute('SHOW server_version').fetchone()[0].split()[0]]\n"
        "connection.execute(\"SET LOCAL statement_timeout = '30s'\")\n"
        "connection.execute(SCRIPT)\n"
    ),
}
SQL_PRELUDE = (
    "import json\nimport sys\n\nwith open(sys.argv[1], encoding='utf-8') as handle:\n    SCRIPT = handle.read()\n"
)
SQL_ENGINE_LINE = f"print({ENGINE_MARKER!r} + json.dumps(ENGINE), flush=True)\n"
# Nothing a PostgreSQL snippet did outlives its run.
SQL_EPILOGUES = {"postgresql": "connection.rollback()\nconnection.close()\n"}


def run_sql(program, timeout=RUN_TIMEOUT):
    extra_env = {}
    if program.runner == "duckdb" and importlib.util.find_spec("duckdb") is None:
        return Outcome(NOT_RUN, program.runner, error="the duckdb Python package is not installed here")
    if program.runner == "postgresql":
        if not settings.KB_SNIPPET_POSTGRES_URL:
            return Outcome(
                NOT_RUN, program.runner, error="no PostgreSQL server is configured (KB_SNIPPET_POSTGRES_URL)"
            )
        extra_env[POSTGRES_URL_VARIABLE] = settings.KB_SNIPPET_POSTGRES_URL
    engine = SQL_ENGINES[program.runner]
    script = SQL_PRELUDE + engine + SQL_ENGINE_LINE + _then_check(program) + SQL_EPILOGUES.get(program.runner, "")
    with tempfile.TemporaryDirectory(prefix="snippet-") as directory:
        (Path(directory) / SQL_FILE).write_text(as_file(program.code), encoding="utf-8")
        (Path(directory) / DRIVER_FILE).write_text(script, encoding="utf-8")
        completed, elapsed, timeout_error = _run([sys.executable, DRIVER_FILE, SQL_FILE], directory, timeout, extra_env)
    return _outcome(completed, elapsed, timeout_error, program.runner, [])


RUNNERS = {"python": run_python, **dict.fromkeys(SQL_ENGINES, run_sql)}


def run(program, timeout=RUN_TIMEOUT):
    """Run ``program`` with its runner; a runner this engine does not have is not run."""
    runner = RUNNERS.get(program.runner)
    if runner is None:
        return Outcome(NOT_RUN, program.runner, error=f"there is no runner called {program.runner!r} here")
    return runner(program, timeout=timeout)
