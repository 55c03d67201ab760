"""The code snippets in content/snippets/ parse, and the runnable ones run.

The files are read directly with PyYAML, so these tests need neither the
database nor the loader. Each runnable Flask or Django program runs in its own
subprocess (this process has Django configured with the project's settings),
in a temporary directory holding the program as ``app.py``, its template files
and a driver script that imports the program and drives the framework's test
client. The per-task assertions are in ``CHECKS``; a runnable program without
an entry there fails ``test_every_runnable_program_has_a_check``.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
SNIPPETS_DIR = CONTENT_DIR / "snippets"
SOURCES_DIR = CONTENT_DIR / "sources"

FRAMEWORKS = ("flask", "django")
LANGUAGES = {"python", "html+jinja", "html+django", "html", "shell", "text"}
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
PROGRAM_FILE = "app.py"
DRIVER_FILE = "drive_snippet.py"
RUN_TIMEOUT = 60
OK_MARKER = "SNIPPET CHECK PASSED"
# A program that calls a deprecated API fails (warnings raised in other modules are left alone).
STRICT_WARNINGS = ["-W", "error::DeprecationWarning:app", "-W", "error::PendingDeprecationWarning:app"]


@dataclass(frozen=True)
class Check:
    """How to run one task's program for one subject, and what to assert.

    ``code`` runs in the driver after ``import app``; it has ``app`` (the
    program module) and ``client`` (the framework's test client) in scope,
    and for Django also ``call_command`` and ``migrate()``. ``files`` maps a
    path relative to the program to the language of the snippet of the same
    task and subject that is written there (the program's templates).
    """

    code: str
    files: dict[str, str] = field(default_factory=dict)


CHECKS: dict[tuple[str, str], Check] = {
    ("hello-world", "flask"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200, response.status_code
        assert response.text == "Hello, World!", response.text
        """
    ),
    ("hello-world", "django"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200, response.status_code
        assert response.content == b"Hello, World!", response.content
        assert callable(app.application)
        """
    ),
    ("routing", "flask"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert "Hello, Flask!" in response.text, response.text
        assert 'href="/users/1"' in response.text, response.text
        response = client.get("/users/42")
        assert response.text == "User 42", response.text
        assert client.get("/users/abc").status_code == 404
        """
    ),
    ("routing", "django"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert b"Hello, Django!" in response.content, response.content
        assert b'href="/users/1/"' in response.content, response.content
        response = client.get("/users/42/")
        assert response.content == b"User 42", response.content
        assert client.get("/users/abc/").status_code == 404
        """
    ),
    ("render-template", "flask"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert "<title>Home</title>" in response.text, response.text
        assert "<h1>HOME</h1>" in response.text, response.text
        assert "<li>2. Django</li>" in response.text, response.text
        """,
        files={"templates/index.html": "html+jinja"},
    ),
    ("render-template", "django"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert [t.name for t in response.templates] == ["index.html"]
        html = response.content.decode()
        assert "<title>Home</title>" in html, html
        assert "<h1>HOME</h1>" in html, html
        assert "<li>2. Django</li>" in html, html
        """,
        files={"templates/index.html": "html+django"},
    ),
    ("define-model", "flask"): Check(
        """
        with app.app.app_context():
            app.db.session.add_all([app.User(name="Grace"), app.User(name="Ada")])
            app.db.session.commit()
            ada = app.db.session.scalars(app.db.select(app.User).filter_by(name="Ada")).one()
            assert ada.id is not None
        assert client.get("/users").json == ["Ada", "Grace"]
        """
    ),
    ("define-model", "django"): Check(
        """
        migrate()
        app.User.objects.create(name="Grace")
        app.User.objects.create(name="Ada")
        assert app.User.objects.get(name="Ada").pk is not None
        assert client.get("/users/").json() == ["Ada", "Grace"]
        """
    ),
    ("login-required", "flask"): Check(
        """
        response = client.get("/profile")
        assert response.status_code == 302, response.status_code
        assert response.location.startswith("/login?next="), response.location
        result = app.app.test_cli_runner().invoke(args=["create-user", "ada", "--password", "s3cret"])
        assert result.exit_code == 0, result.output
        response = client.post("/login", data={"username": "ada", "password": "wrong"})
        assert "Invalid username or password." in response.text
        response = client.post("/login", data={"username": "ada", "password": "s3cret"})
        assert response.status_code == 302 and response.location == "/profile", response.location
        assert client.get("/profile").text == "Hello, ada!"
        """
    ),
    ("login-required", "django"): Check(
        """
        migrate()
        response = client.get("/profile/")
        assert response.status_code == 302, response.status_code
        assert response.url == "/accounts/login/?next=/profile/", response.url
        assert client.get(response.url).status_code == 200
        from django.contrib.auth.models import User

        User.objects.create_user("ada", password="s3cret")
        response = client.post("/accounts/login/", {"username": "ada", "password": "s3cret"})
        assert response.status_code == 302 and response.url == "/profile/", response
        assert client.get("/profile/").content == b"Hello, ada!"
        """
    ),
    ("content-security-policy", "flask"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
        assert 'name="post"' in response.text
        response = client.post("/", data={"post": "<script>alert(1)</script>"})
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
        assert "<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>" in response.text, response.text
        """,
        files={"templates/post_feed.html": "html+jinja"},
    ),
    ("content-security-policy", "django"): Check(
        """
        response = client.get("/")
        assert response.status_code == 200
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
        assert b'name="post"' in response.content
        assert b"csrfmiddlewaretoken" in response.content
        response = client.post("/", {"post": "<script>alert(1)</script>"})
        assert response.headers["Content-Security-Policy"] == "default-src 'self'"
        assert b"<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>" in response.content, response.content
        from django.test import Client

        assert Client(enforce_csrf_checks=True).post("/", {"post": "x"}).status_code == 403
        """,
        files={"templates/post_feed.html": "html+django"},
    ),
    ("template-escaping", "flask"): Check(
        """
        hostile = {"name": "<script>alert(1)</script>", "css_class": "class1 onmouseover=javascript:func()"}
        html = client.get("/", query_string=hostile).text
        assert '<p class="class1 onmouseover=javascript:func()">' in html, html
        assert "Hello, &lt;script&gt;alert(1)&lt;/script&gt;!" in html, html
        html = client.get("/", query_string={"css_class": 'x" onmouseover="func()'}).text
        assert 'class="x&#34; onmouseover=&#34;func()"' in html, html
        """,
        files={"templates/greeting.html": "html+jinja"},
    ),
    ("template-escaping", "django"): Check(
        """
        hostile = {"name": "<script>alert(1)</script>", "css_class": "class1 onmouseover=javascript:func()"}
        html = client.get("/", hostile).content.decode()
        assert '<p class="class1 onmouseover=javascript:func()">' in html, html
        assert "Hello, &lt;script&gt;alert(1)&lt;/script&gt;!" in html, html
        html = client.get("/", {"css_class": 'x" onmouseover="func()'}).content.decode()
        assert 'class="x&quot; onmouseover=&quot;func()"' in html, html
        """,
        files={"templates/greeting.html": "html+django"},
    ),
    ("form-validation", "flask"): Check(
        """
        import re

        html = client.get("/").text
        assert 'name="guests"' in html, html
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        for data in ({"name": "", "guests": "2"}, {"name": "Ada", "guests": "11"}, {"name": "Ada", "guests": "x"}):
            response = client.post("/", data={**data, "csrf_token": token})
            assert response.status_code == 200, (data, response.status_code)
            assert 'class="error"' in response.text, (data, response.text)
        response = client.post("/", data={"name": "Ada", "guests": "2"})
        assert response.status_code == 200, "a POST without the CSRF token is rejected"
        assert "The CSRF token is missing." in response.text, response.text
        response = client.post("/", data={"name": "Ada", "guests": "2", "csrf_token": token})
        assert response.status_code == 302 and response.location == "/thanks", response.location
        """,
        files={"templates/rsvp.html": "html+jinja"},
    ),
    ("form-validation", "django"): Check(
        """
        assert b'name="guests"' in client.get("/").content
        for data in ({"name": "", "guests": "2"}, {"name": "Ada", "guests": "11"}, {"name": "Ada", "guests": "x"}):
            response = client.post("/", data)
            assert response.status_code == 200, (data, response.status_code)
            assert response.context["form"].errors, data
            assert b'class="errorlist"' in response.content, response.content
        response = client.post("/", {"name": "Ada", "guests": "2"})
        assert response.status_code == 302 and response.url == "/thanks/", response
        """,
        files={"templates/rsvp.html": "html+django"},
    ),
    ("admin-interface", "flask"): Check(
        """
        response = client.get("/admin/post/")
        assert response.status_code == 200, response.status_code
        response = client.post("/admin/post/new/", data={"title": "First post", "body": "", "published": "y"})
        assert response.status_code == 302, (response.status_code, response.text)
        with app.app.app_context():
            post = app.db.session.scalars(app.db.select(app.Post)).one()
            assert post.title == "First post" and post.published
        assert "First post" in client.get("/admin/post/").text
        """
    ),
    ("admin-interface", "django"): Check(
        """
        migrate()
        response = client.get("/admin/blog/post/")
        assert response.status_code == 302 and response.url.startswith("/admin/login/"), response
        from django.contrib.auth.models import User

        client.force_login(User.objects.create_superuser("admin", "admin@example.com", "s3cret"))
        response = client.post("/admin/blog/post/add/", {"title": "First post", "body": "", "published": "on"})
        assert response.status_code == 302, response.status_code
        post = app.Post.objects.get()
        assert post.title == "First post" and post.published
        response = client.get("/admin/blog/post/")
        assert response.status_code == 200 and b"First post" in response.content
        """
    ),
    ("json-api", "flask"): Check(
        """
        response = client.get("/api/books")
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert response.json == [{"id": 1, "title": "Flask Web Development"}]
        response = client.post("/api/books", json={"title": "Django for Beginners"})
        assert response.status_code == 201 and response.json == {"id": 2, "title": "Django for Beginners"}
        assert client.get("/api/books/2").json["title"] == "Django for Beginners"
        assert client.get("/api/books/9").status_code == 404
        assert client.get("/api/books/9").json == {"error": "not found"}
        for body in ({}, {"title": ""}, [1]):
            assert client.post("/api/books", json=body).status_code == 400, body
        assert client.post("/api/books", data="{", content_type="application/json").status_code == 400
        """
    ),
    ("json-api", "django"): Check(
        """
        response = client.get("/api/books/")
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        assert response.json() == [{"id": 1, "title": "Django for Beginners"}]
        response = client.post("/api/books/", {"title": "Flask Web Development"}, content_type="application/json")
        assert response.status_code == 201 and response.json() == {"id": 2, "title": "Flask Web Development"}
        assert client.get("/api/books/2/").json()["title"] == "Flask Web Development"
        assert client.get("/api/books/9/").status_code == 404
        assert client.get("/api/books/9/").json() == {"error": "not found"}
        for body in ({}, {"title": ""}, [1], "{"):
            response = client.post("/api/books/", body, content_type="application/json")
            assert response.status_code == 400, body
        assert client.delete("/api/books/").status_code == 405
        """
    ),
}


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


def as_file(code: str) -> str:
    """The text of a file holding the snippet (the canonical YAML strips the final newline)."""
    return code.rstrip("\n") + "\n"


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
        assert snippet["language"] in LANGUAGES
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

DRIVER_PREAMBLES = {
    "flask": """
        import app

        client = app.app.test_client()
    """,
    "django": """
        import app
        from django.core.management import call_command
        from django.test import Client
        from django.test.utils import setup_test_environment

        setup_test_environment()
        call_command("check", fail_level="WARNING")
        client = Client()


        def migrate():
            call_command("migrate", run_syncdb=True, verbosity=0)
    """,
}


def write_program(directory: Path, slug: str, subject: str) -> None:
    check = CHECKS[(slug, subject)]
    program = find_snippet(slug, subject, "python")
    (directory / PROGRAM_FILE).write_text(as_file(program["code"]), encoding="utf-8")
    for relative, language in check.files.items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(as_file(find_snippet(slug, subject, language)["code"]), encoding="utf-8")
    driver = textwrap.dedent(DRIVER_PREAMBLES[subject]) + textwrap.dedent(check.code) + f"\nprint({OK_MARKER!r})\n"
    (directory / DRIVER_FILE).write_text(driver, encoding="utf-8")


def clean_environment(directory: Path) -> dict[str, str]:
    """The environment without the project's Django or Flask configuration."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "FLASK_", "PYTHON", "DATABASE_"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["HOME"] = str(directory)
    return env


def run_program(directory: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *STRICT_WARNINGS, DRIVER_FILE],
        cwd=directory,
        env=clean_environment(directory),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


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
                directory = tmp_path_factory.mktemp("-".join(key))
                write_program(directory, *key)
                runs[key] = pool.submit(run_program, directory)
        yield runs
        pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("key", runnable_programs(), ids="/".join)
def test_program_runs(key, program_runs):
    if key not in CHECKS:
        pytest.fail(f"no entry in CHECKS for {key}")
    try:
        result = program_runs[key].result()
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"timed out after {RUN_TIMEOUT}s\n{timeout.stderr}")
    hint = ""
    if "ModuleNotFoundError" in result.stderr:
        hint = "\n(a framework extension is missing: install tests/requirements.txt)"
    assert result.returncode == 0 and OK_MARKER in result.stdout, (
        f"exit status {result.returncode}{hint}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
