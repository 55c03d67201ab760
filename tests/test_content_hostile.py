"""Content files are input too: hostile ones are neutralised or refused with a clear message.

Each test works on a copy of tests/fixtures/content. What could hang or exhaust
memory (YAML bombs, deep nesting) is parsed in a subprocess with a time and
memory limit, so that a vulnerable loader fails this test rather than the run.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse

from kb.evidence.captures import archive_file
from kb.knowledge import models as m
from tests.conftest import FIXTURES
from tests.test_xss import dangers

pytestmark = pytest.mark.django_db

PARSE_TIMEOUT = 60  # seconds
PARSE_MEMORY = 1024 * 1024 * 1024  # bytes of address space for the parsing subprocess


@pytest.fixture
def content(tmp_path):
    directory = tmp_path / "content"
    shutil.copytree(FIXTURES / "content", directory)
    return directory


def load(directory):
    call_command("load_content", str(directory), verbosity=0)


def load_error(directory):
    with pytest.raises(CommandError) as error:
        load(directory)
    return str(error.value)


def replace_in(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# Markdown with script: loads, and is neutralised ----------------------------------------

SCRIPT_BODY = """\
  body: |-
    <script>alert(document.cookie)</script>
    [click](javascript:alert(1)) ![x](data:text/html,<script>alert(1)</script>)
    <img src=x onerror=alert(1)>
"""


def test_script_in_markdown_is_neutralised(content, client):
    replace_in(content / "claims" / "alpha.yaml", "  body: Alpha ships its own widget engine.\n", SCRIPT_BODY)
    replace_in(
        content / "subjects" / "alpha.yaml", "  It has two paragraphs.", "  <svg onload=alert(1)> [x](vbscript:x)"
    )
    load(content)
    claim = m.Claim.objects.get(subject__slug="alpha", key="widgets")
    assert "alert(document.cookie)" in claim.body  # the source text is kept as written
    assert not dangers(claim.body_html), claim.body_html
    assert "&lt;script&gt;" in claim.body_html  # shown as text, not run
    assert not dangers(m.Subject.objects.get(slug="alpha").summary_html)
    for url in (claim.get_absolute_url(), reverse("kb:subject", args=["alpha"]), "/compare/alpha-vs-beta/"):
        response = client.get(url)
        assert response.status_code == 200
        assert not dangers(response.content.decode()), url


# Dangerous URLs are refused, naming the file and line ------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/path",
    ],
)
def test_dangerous_source_url_is_refused(content, url):
    replace_in(content / "sources" / "sample.yaml", "author: Ann Author\n", f"author: Ann Author\nurl: '{url}'\n")
    message = load_error(content)
    assert "content/sources/sample.yaml:1" in message, message
    assert "url" in message and "valid URL" in message, message
    assert "Nothing was loaded" in message
    assert not m.Source.objects.exists()


def test_dangerous_subject_homepage_is_refused(content):
    replace_in(content / "subjects" / "alpha.yaml", "https://alpha.example.org/", "javascript:alert(1)")
    message = load_error(content)
    assert "content/subjects/alpha.yaml:1" in message, message
    assert "homepage" in message and "valid URL" in message, message


def test_archive_key_cannot_leave_the_archive_folder(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "real.txt").write_text("An archived text.", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("Not for editors.", encoding="utf-8")
    assert archive_file(archive, "real") == archive / "real.txt"
    for key in ("../secret", "..\\secret", str(tmp_path / "secret"), "./../secret", ".hidden", "real\x00"):
        assert archive_file(archive, key) is None, key


# Sizes ----------------------------------------------------------------------------------


def test_ten_megabyte_quote_is_refused(content):
    quote = "A very long quote. " * (10 * 1024 * 1024 // 19)
    path = content / "sources" / "sample.yaml"
    path.write_text(
        path.read_text(encoding="utf-8") + f"- key: huge\n  text: |-\n    {quote}\n",
        encoding="utf-8",
    )
    message = load_error(content)
    assert "content/sources/sample.yaml:" in message, message
    assert "excerpt 'huge'" in message
    assert "field 'text'" in message and "the limit is" in message, message


def test_huge_single_line_field_is_refused(content):
    replace_in(content / "subjects" / "beta.yaml", "name: Beta", "name: " + "B" * 200_000)
    message = load_error(content)
    assert "content/subjects/beta.yaml" in message and "the limit is" in message, message


# Files that are not UTF-8 YAML -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01", "not UTF-8"),
        ("name: Café\nkind: tool\n".encode("latin-1"), "not UTF-8"),
        ("name: Beta\nkind: tool\n".encode("utf-16"), "not UTF-8"),
        (b"name: Be\x00ta\nkind: tool\n", "YAML"),
        (b"\x7fELF\x02\x01\x01" + bytes(range(256)), "not UTF-8"),
    ],
    ids=["png", "latin-1", "utf-16", "nul-byte", "elf"],
)
def test_binary_or_non_utf8_file_gives_a_clear_message(content, data, expected):
    (content / "subjects" / "beta.yaml").write_bytes(data)
    message = load_error(content)
    assert "content/subjects/beta.yaml" in message, message
    assert expected in message, message


def test_non_yaml_file_in_a_content_folder_is_refused(content):
    (content / "subjects" / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    message = load_error(content)
    assert "photo.png" in message and "<slug>.yaml" in message, message


# YAML bombs and deep nesting: parsed in a bounded subprocess ------------------------------

PARSE_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import django
    django.setup()
    from kb.content.files import read_content
    from kb.content.yamlio import ContentError
    try:
        read_content(sys.argv[1])
    except ContentError as error:
        print("CONTENT-ERROR", error)
        sys.exit(3)
    except MemoryError:
        print("OUT-OF-MEMORY")
        sys.exit(4)
    print("PARSED")
    """
)


def parse_in_subprocess(directory, tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith(("KB_", "DATABASE_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }
    try:
        result = subprocess.run(
            [sys.executable, "-c", PARSE_SCRIPT, str(directory), str(PARSE_MEMORY)],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=PARSE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"parsing hung for more than {PARSE_TIMEOUT}s")
    output = result.stdout + result.stderr
    assert result.returncode >= 0, f"the parser crashed (signal {-result.returncode}):\n{output[-2000:]}"
    assert "OUT-OF-MEMORY" not in output and "MemoryError" not in output, output[-2000:]
    return result.returncode, output


def billion_laughs(levels=9):
    """A YAML list whose last item is 9**levels "lol"s, written in a few hundred bytes."""
    items = ['&lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    items += [f"&lol{level} [" + ", ".join([f"*lol{level - 1}"] * 9) + "]" for level in range(1, levels)]
    return "[" + ", ".join(items) + "]"


BOMBS = {
    # The classic, in fields that turn a wrong value into text for their error message.
    "billion-laughs-in-a-date": f"title: Bomb\nkind: article\npublished: {billion_laughs()}\n",
    "billion-laughs-in-a-title": f"title: {billion_laughs()}\nkind: article\n",
    "billion-laughs-unknown-field": f"lol: {billion_laughs()}\ntitle: Bomb\nkind: article\n",
    # Merge keys doubling at each level: 2**40 entries before any duplicate key is seen.
    "merge-key-doubling": "title: "
    + "".join(f"&m{level} {{<<: [" for level in range(40, 0, -1))
    + "&m0 {x: 1}"
    + "".join(f", *m{level - 1}]}}" for level in range(1, 41))
    + "\nkind: article\n",
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_yaml_bomb_is_refused_or_bounded(content, tmp_path, name):
    (content / "sources" / "sample.yaml").write_text(BOMBS[name], encoding="utf-8")
    returncode, output = parse_in_subprocess(content, tmp_path)
    assert returncode == 3, f"the bomb was not refused:\n{output[-2000:]}"
    assert "content/sources/sample.yaml" in output, output[-2000:]


@pytest.mark.parametrize("depth", [100, 5_000, 100_000])
def test_deep_nesting_is_refused(content, tmp_path, depth):
    (content / "subjects" / "beta.yaml").write_text(
        "name: Beta\nkind: tool\nsummary: " + "[" * depth + "]" * depth + "\n", encoding="utf-8"
    )
    returncode, output = parse_in_subprocess(content, tmp_path)
    assert returncode == 3, f"the nesting was not refused with a message:\n{output[-2000:]}"
    assert "content/subjects/beta.yaml" in output, output[-2000:]


def test_the_subprocess_parses_clean_content(content, tmp_path):
    """The harness itself: the sample content parses within the limits."""
    returncode, output = parse_in_subprocess(content, tmp_path)
    assert returncode == 0, output[-2000:]
    assert "PARSED" in output


# Required fields of every type ----------------------------------------------------------


def test_run_without_ran_is_refused_with_file_and_line(content):
    replace_in(content / "snippets" / "hello.yaml", "    ran: 2026-11-21 11:00:00+00:00\n", "")
    message = load_error(content)
    assert "content/snippets/hello.yaml:13" in message, message
    assert "missing required field 'ran'" in message, message
    assert not m.Snippet.objects.exists()
