"""The code snippets in content/snippets/ parse, and the runnable ones run.

The files are read directly with PyYAML, so these tests need neither the
database nor the loader. Each runnable Flask or Django program runs with
``kb.evidence.snippet_runners`` (the same runner ``verify_snippets`` uses), in its own
subprocess and temporary directory, driven by its entry in
``kb.evidence.snippet_checks.CHECKS``; a runnable program without an entry there fails
``test_every_runnable_program_has_a_check``.
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

from kb.evidence.snippet_checks import CHECKS
from kb.evidence.snippet_runners import Program, as_file, run
from kb.knowledge.rendering import known_language

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
SNIPPETS_DIR = CONTENT_DIR / "snippets"
SOURCES_DIR = CONTENT_DIR / "sources"

FRAMEWORKS = ("flask", "django")
TASK_KEYS = ["title", "order", "description", "snippets"]
SNIPPET_KEYS = [
    "subject",
    "language",
    "derived_from",
    "explanation",
    "source_note",
    "runnable",
    "not_runnable_reason",
    "added",
    "changed",
    "code",
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


def runnable_programs() -> list[tuple[str, str]]:
    """(task slug, subject) of every runnable Flask or Django Python snippet."""
    return [
        (slug, snippet["subject"])
        for slug, task in TASKS.items()
        for snippet in task["snippets"]
        if snippet["language"] == "python" and snippet["subject"] in FRAMEWORKS and snippet.get("runnable", True)
    ]


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
    assert subjects == set(FRAMEWORKS), "every task has a Flask and a Django program"


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
    if not ruff.exists():
        pytest.skip("ruff is not installed next to this Python")
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


def test_every_runnable_program_has_a_check():
    missing = [key for key in runnable_programs() if key not in CHECKS]
    assert not missing, f"add an entry to CHECKS for {missing}"


def test_every_check_has_a_runnable_program():
    stale = [key for key in CHECKS if key not in runnable_programs()]
    assert not stale, f"CHECKS entries without a runnable program: {stale}"


@pytest.mark.parametrize("key", sorted(CHECKS), ids="/".join)
def test_check_files_name_existing_templates(key):
    slug, subject = key
    for path, language in CHECKS[key].files.items():
        assert find_snippet(slug, subject, language), f"no {language} snippet for {path}"


# --- running the programs ---------------------------------------------------------


def program(slug: str, subject: str) -> Program:
    """The Python program of ``slug`` and ``subject``, with its task's other snippets for the subject."""
    siblings = {s["language"]: s["code"] for s in TASKS[slug]["snippets"] if s["subject"] == subject}
    return Program(slug, subject, "python", siblings["python"], siblings)


@pytest.fixture(scope="module")
def program_runs(request, tmp_path_factory):
    """Start the selected programs, as many at a time as there are CPUs; each test waits for its own."""
    selected = {
        item.callspec.params["key"] for item in request.session.items if item.originalname == "test_program_runs"
    }
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        runs = {}
        for key in runnable_programs():
            if key in CHECKS and key in selected:
                runs[key] = pool.submit(run, program(*key))
        yield runs
        pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("key", runnable_programs(), ids="/".join)
def test_program_runs(key, program_runs):
    if key not in CHECKS:
        pytest.fail(f"no entry in CHECKS for {key}")
    result = program_runs[key].result()
    hint = ""
    if "ModuleNotFoundError" in result.output:
        hint = "\n(a framework extension is missing: install tests/requirements.txt)"
    assert result.passed, f"{result.outcome}{hint}\n{result.error}\n--- output\n{result.output}"
