"""Every command the README prints runs as printed, where `make run` has run (issue 21, item 2).

The README's fenced shell blocks are each marked, on the line before the fence, either
``<!-- readme-test: run -->`` (runnable as printed) or ``<!-- readme-test: illustration (why) -->``
(``make run`` itself, a crontab line, a production host's restore). The runnable ones run here, in a
copy of this checkout (its tracked and new files, ``.venv`` shared) on a fresh SQLite database, after
the steps of ``make run`` that come before serving (``make load captures``), with none of this test
run's ``DJANGO_*``/``KB_*``/``DATABASE_*`` variables: what a newcomer's shell has. Inline commands
(```DJANGO_DEBUG=1 .venv/bin/python manage.py …```, ```make …```) must name a real management
command or make target, and no command is written ``python manage.py`` (no such ``python`` is promised).
"""

import os
import re
import shutil
import subprocess
import textwrap

import pytest
from django.conf import settings
from django.core.management import get_commands

ROOT = settings.BASE_DIR
README = (ROOT / "README.md").read_text()
SHELL = {"sh", "shell", "bash", "console"}
FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.M | re.S)
MARK = re.compile(r"^\s*<!-- readme-test: (?P<kind>run|illustration)\b[^>]*-->\s*$")
INLINE_MANAGE = re.compile(r"`(?:DJANGO_DEBUG=1 )?\.venv/bin/python manage\.py ([a-z_]+)")
INLINE_MAKE = re.compile(r"`make ([a-z][a-z-]*)")
PASSWORD = "correct-horse-battery-staple-21"
FRESH_ENV_DROPS = ("DJANGO_", "KB_", "DATABASE_", "REDIS_", "PYTEST_")


def fenced_blocks(text=README):
    """(info, mark, body, line) of every fenced block; mark is "run", "illustration" or None."""
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARK.match(before)
        line = text[: match.start()].count("\n") + 1
        body = textwrap.dedent(match["body"])
        yield match["info"].strip(), mark["kind"] if mark else None, body, line


def shell_blocks(kind):
    return [(line, body) for info, mark, body, line in fenced_blocks() if info in SHELL and mark == kind]


def make_targets():
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))


def test_every_shell_block_is_marked_runnable_or_illustration():
    unmarked = [line for info, mark, _body, line in fenced_blocks() if info in SHELL and mark is None]
    assert unmarked == []
    assert len(shell_blocks("run")) >= 3
    assert shell_blocks("illustration")


def test_the_parser_sees_marks_and_indented_blocks():
    sample = "x\n<!-- readme-test: run -->\n```sh\nmake a\n```\n\n   ```sh\n   make b\n   ```\n"
    assert [(mark, body) for _info, mark, body, _line in fenced_blocks(sample)] == [
        ("run", "make a\n"),
        (None, "make b\n"),
    ]


def test_no_command_is_written_with_a_bare_python():
    assert not re.search(r"(?<![/\w])python manage\.py", README)
    assert not re.search(
        r"(?<![/\w])python manage\.py", (ROOT / "kb/management/commands/load_for_startup.py").read_text()
    )


def test_inline_commands_name_real_commands_and_targets():
    commands, targets = set(get_commands()), make_targets()
    named = INLINE_MANAGE.findall(README)
    assert {"create_editor", "export_content", "load_content", "verify_content", "restore_db"} <= set(named)
    assert sorted(set(named) - commands) == []
    assert {"editor", "export", "run", "test"} <= set(INLINE_MAKE.findall(README))
    assert sorted(set(INLINE_MAKE.findall(README)) - targets) == []
    for _line, body in shell_blocks("run"):
        for command in re.findall(r"^make ([a-z][a-z-]*)", body, re.M):
            assert command in targets


# Running them ---------------------------------------------------------------------------------------


def fresh_env():
    env = {name: value for name, value in os.environ.items() if not name.startswith(FRESH_ENV_DROPS)}
    env["HOME"] = os.environ.get("HOME", "/tmp")
    return env


def run(command, cwd, stdin="", timeout=300):
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command],
        cwd=cwd,
        env=fresh_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,  # no controlling terminal: getpass reads the typed password from stdin
    )


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of this checkout as a fresh clone would have it (a git repository), with `make run`'s setup done."""
    copy = tmp_path_factory.mktemp("readme") / "kb"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)  # keeps times: make sees the shared .venv as up to date
    (copy / ".venv").symlink_to(ROOT / ".venv")
    git = "git -c user.name=newcomer -c user.email=newcomer@example.org"
    setup = run(f"git init -q && git add -A && {git} commit -qm clone", copy)
    assert setup.returncode == 0, setup.stderr
    started = run("make load captures", copy)  # `make run` up to serving: migrate, load, captures
    assert started.returncode == 0, started.stdout + started.stderr
    assert (copy / "db.sqlite3").exists()
    return copy


def test_runnable_blocks_run_as_printed(checkout):
    blocks = shell_blocks("run")
    for line, body in blocks:
        result = run(body, checkout, stdin=f"{PASSWORD}\n{PASSWORD}\n")
        assert result.returncode == 0, f"README line {line}:\n{body}\n{result.stdout}\n{result.stderr}"
    ran = "\n".join(body for _line, body in blocks)
    assert "make editor NAME=alice" in ran and "make export" in ran
    # What they did: an editor who can sign in, and content files the export left as they were.
    result = run(
        "DJANGO_DEBUG=1 .venv/bin/python manage.py shell -c "
        "\"from django.contrib.auth.models import User; u = User.objects.get(username='alice'); "
        f"print(u.is_staff, list(u.groups.values_list('name', flat=True)), u.check_password('{PASSWORD}'))\"",
        checkout,
    )
    assert result.stdout.split("\n")[-2] == "True ['Editors'] True", result.stdout + result.stderr
    assert run("git diff --quiet content/", checkout).returncode == 0  # load then export: byte for byte


def test_the_start_up_note_names_a_command_that_works(checkout):
    edit = run(
        "DJANGO_DEBUG=1 .venv/bin/python manage.py shell -c "
        "\"from kb.knowledge.models import Claim; c = Claim.objects.get(subject__slug='flask', key='microframework'); "
        "c.cell = 'Microframework, edited in the admin'; c.save()\"",
        checkout,
    )
    assert edit.returncode == 0, edit.stderr
    started = run("make load", checkout)
    assert started.returncode == 0, started.stderr
    note = re.search(r"Write them to the files with: (.+)", started.stderr)
    assert note, started.stderr
    assert note[1] == "DJANGO_DEBUG=1 .venv/bin/python manage.py export_content content/"
    exported = run(note[1], checkout)
    assert exported.returncode == 0, exported.stderr
    assert "Microframework, edited in the admin" in (checkout / "content/claims/flask.yaml").read_text()
