"""The code snippets in content/snippets/ parse, and the runnable ones run and pass their checks.

The files are read directly with PyYAML, so these tests need neither the
database nor the loader. Each runnable program runs with
``kb.evidence.snippet_runners`` (the same runner ``verify_snippets`` uses), in its own
subprocess and temporary directory, under its subject's runner and driver
(``runners`` in content/subjects/<slug>.yaml) and its own ``check``.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from kb.evidence.snippet_runners import Piece, as_file, plan_runs, run
from kb.knowledge.rendering import known_language

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
SNIPPETS_DIR = CONTENT_DIR / "snippets"
SOURCES_DIR = CONTENT_DIR / "sources"
SUBJECTS_DIR = CONTENT_DIR / "subjects"

FRAMEWORKS = ("flask", "django")  # every task has a program of each
NEW_FRAMEWORKS = ("fastapi", "bottle", "pyramid", "tornado")  # issue 22: these tasks at least, for each
NEW_FRAMEWORK_TASKS = ("hello-world", "routing", "json-api", "render-template")
TASK_KEYS = ["title", "order", "description", "snippets"]
SNIPPET_KEYS = [
    "subject",
    "language",
    "path",
    "derived_from",
    "explanation",
    "source_note",
    "runnable",
    "not_runnable_reason",
    "added",
    "changed",
    "run",
    "code",
    "check_summary",
    "check",
]
EXCERPT_REF = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*/[a-z0-9]+(?:-[a-z0-9]+)*$")


# --- reading the content files ------------------------------------------------


def load_tasks() -> dict[str, dict]:
    return {path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(SNIPPETS_DIR.glob("*.yaml"))}


TASKS = load_tasks()


def snippets(*, language: str | None = None) -> list:
    """(task slug, snippet) pairs wrapped in pytest params with readable ids."""
    params = []
    for slug, task in TASKS.items():
        for snippet in task.get("snippets") or []:
            if language is None or snippet.get("language") == language:
                snippet_id = f"{slug}/{snippet.get('subject')}/{snippet.get('language')}"
                params.append(pytest.param(slug, snippet, id=snippet_id))
    return params


def find_snippet(slug: str, subject: str, language: str) -> dict | None:
    for snippet in TASKS[slug]["snippets"]:
        if snippet["subject"] == subject and snippet["language"] == language:
            return snippet
    return None


@functools.cache
def subject_runners() -> dict:
    """{(subject, language): (runner, driver)} as the subjects' files name them."""
    runners = {}
    for path in sorted(SUBJECTS_DIR.glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")).get("runners") or []:
            runners[(path.stem, entry["language"])] = (entry["runner"], entry.get("driver", ""))
    return runners


@functools.cache
def plans() -> dict:
    """The runners' plan of every runnable snippet, by task/subject/language."""
    pieces = [
        Piece(
            slug, s["subject"], s["language"], s["code"], s.get("path", ""), s.get("check", ""), s.get("runnable", True)
        )
        for slug, task in TASKS.items()
        for s in task["snippets"]
    ]
    return {plan.piece.label: plan for plan in plan_runs(pieces, subject_runners())}


def runnable_programs() -> list[str]:
    """task/subject/language of every snippet that runs as a program of its own."""
    return [label for label, plan in plans().items() if plan.program and not plan.file_of]


# --- the format ----------------------------------------------------------------


def test_there_are_snippets():
    assert TASKS, f"no snippet files in {SNIPPETS_DIR}"


@pytest.mark.parametrize("slug", sorted(TASKS))
def test_task_format(slug):
    task = TASKS[slug]
    assert isinstance(task, dict)
    assert [key for key in TASK_KEYS if key in task] == list(task), "unknown keys or order"
    assert task.get("title"), "a task needs a title"
    assert task.get("description"), "a task needs a description"
    assert isinstance(task.get("order"), int)
    assert task.get("snippets"), "a task needs snippets"
    seen = set()
    for snippet in task["snippets"]:
        keys = [key for key in SNIPPET_KEYS if key in snippet]
        assert keys == list(snippet), f"unknown keys or order: {list(snippet)}"
        assert known_language(snippet["language"]), snippet["language"]
        assert snippet.get("code", "").strip(), "a snippet needs code"
        assert snippet.get("explanation"), "a snippet needs an explanation"
        assert "runnable" not in snippet or snippet["runnable"] is False, "omit runnable when it is true"
        identity = (snippet["subject"], snippet["language"])
        assert identity not in seen, f"two snippets for {identity}"
        seen.add(identity)
    subjects = {subject for subject, language in seen if language == "python"}
    assert set(FRAMEWORKS) <= subjects, "every task has a Flask and a Django program"
    if slug in NEW_FRAMEWORK_TASKS:
        assert set(NEW_FRAMEWORKS) <= subjects, f"{slug} has a program for each of {NEW_FRAMEWORKS}"


def test_orders_are_unique():
    orders = [task["order"] for task in TASKS.values()]
    assert len(orders) == len(set(orders))


@pytest.mark.parametrize(("slug", "snippet"), snippets())
def test_not_runnable_snippets_say_why(slug, snippet):
    if snippet.get("runnable", True):
        assert "not_runnable_reason" not in snippet
    else:
        assert snippet.get("not_runnable_reason", "").strip()


@functools.cache
def source_excerpt_keys() -> dict[str, set[str]]:
    """Excerpt keys of every source file, by source slug."""
    keys = {}
    for path in sorted(SOURCES_DIR.glob("*.yaml")):
        source = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        keys[path.stem] = {excerpt["key"] for excerpt in source.get("excerpts") or []}
    return keys


@pytest.mark.parametrize(("slug", "snippet"), [p for p in snippets() if "derived_from" in p.values[1]])
def test_derived_from_names_an_existing_excerpt(slug, snippet):
    reference = snippet["derived_from"]
    assert EXCERPT_REF.match(reference), reference
    source_slug, key = reference.split("/")
    excerpts = source_excerpt_keys()
    assert source_slug in excerpts, f"no source file {source_slug}.yaml"
    assert key in excerpts[source_slug], f"{source_slug}.yaml has no excerpt {key!r}"


def test_every_code_sample_in_the_sources_has_a_snippet():
    """Each excerpt keyed ``code-...`` (a printed code sample) is some snippet's origin."""
    used = {snippet.get("derived_from") for task in TASKS.values() for snippet in task["snippets"]}
    samples = {
        f"{source_slug}/{key}"
        for source_slug, keys in source_excerpt_keys().items()
        for key in keys
        if key.startswith("code-")
    }
    assert not samples - used, f"code samples no snippet is derived from: {sorted(samples - used)}"


# --- the code -------------------------------------------------------------------


@pytest.mark.parametrize(("slug", "snippet"), snippets(language="python"))
def test_python_snippet_parses(slug, snippet):
    ast.parse(snippet["code"], filename=f"{slug}-{snippet['subject']}.py")


def test_python_snippets_pass_ruff(tmp_path):
    """The programs follow the project's lint and format rules, like its own code."""
    ruff = Path(sys.executable).with_name("ruff")
    assert ruff.exists(), "ruff is installed next to this Python by tests/requirements.txt"
    for slug, task in TASKS.items():
        for snippet in task["snippets"]:
            if snippet["language"] == "python":
                name = f"{slug}_{snippet['subject']}.py".replace("-", "_")
                (tmp_path / name).write_text(as_file(snippet["code"]), encoding="utf-8")
    config = ["--config", str(CONTENT_DIR.parent / "pyproject.toml")]
    for command in (["check", "--no-cache"], ["format", "--check", "--diff", "--no-cache"]):
        result = subprocess.run(
            [str(ruff), *command, *config, "."], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("slug", "snippet"), snippets(language="html+jinja"))
def test_jinja_template_compiles(slug, snippet):
    import jinja2

    jinja2.Environment(autoescape=True).parse(snippet["code"])


@pytest.mark.parametrize(("slug", "snippet"), snippets(language="html+django"))
def test_django_template_compiles(slug, snippet):
    from django.template import Engine

    Engine(libraries={}).from_string(snippet["code"])


def test_every_runnable_program_has_a_check_said_in_plain_words():
    for slug, task in TASKS.items():
        for snippet in task["snippets"]:
            label = f"{slug}/{snippet['subject']}/{snippet['language']}"
            if label in runnable_programs():
                assert snippet.get("check", "").strip(), f"{label}: a runnable program needs a check"
            if snippet.get("check"):
                assert snippet.get("check_summary", "").strip(), f"{label}: say what the check asserts"
                ast.parse(snippet["check"], filename=f"{label} check")


def test_every_runnable_program_runs_where_its_subject_runs():
    """No runnable snippet of content/ is left without a runner: each one is run, none is 'not run here'."""
    not_run = {label: plan.not_run for label, plan in plans().items() if plan.not_run}
    assert not not_run, not_run


def test_every_file_of_a_program_is_written_beside_a_program():
    for label, plan in plans().items():
        if plan.piece.path:
            assert plan.file_of == label.rsplit("/", 1)[0] + "/python", (label, plan.file_of)


# --- running the programs ---------------------------------------------------------


@pytest.fixture(scope="module")
def program_runs(request):
    """Start the selected programs, as many at a time as there are CPUs; each test waits for its own."""
    selected = {
        item.callspec.params["label"] for item in request.session.items if item.originalname == "test_program_runs"
    }
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        runs = {label: pool.submit(run, plans()[label].program) for label in runnable_programs() if label in selected}
        yield runs
        pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("label", runnable_programs())
def test_program_runs(label, program_runs):
    result = program_runs[label].result()
    hint = ""
    if "ModuleNotFoundError" in result.output:
        hint = "\n(a framework or extension is missing: install tests/requirements.txt)"
    assert result.passed, f"{result.outcome}{hint}\n{result.error}\n--- output\n{result.output}"


def test_every_recorded_run_is_of_what_runs_now():
    """The record each snippet carries (verify_snippets --record, exported) is of the code that runs today."""
    for slug, task in TASKS.items():
        for snippet in task["snippets"]:
            label = f"{slug}/{snippet['subject']}/{snippet['language']}"
            plan = plans().get(label)
            if plan is None:
                assert "run" not in snippet, f"{label}: a snippet that is not runnable has no run"
                continue
            record = snippet.get("run")
            assert record, f"{label}: no recorded run (verify_snippets --record, then export_content content/)"
            assert record["outcome"] == "passed", f"{label}: recorded as {record['outcome']}"
            assert record["fingerprint"] == plan.program.fingerprint, f"{label}: recorded run of other code"
