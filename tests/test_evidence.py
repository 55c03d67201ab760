"""Evidence that travels with the knowledge base: captures as data, verification, snippet run records.

Everything here uses files the tests ship or create, and a local HTTP server on
127.0.0.1: never ../shared or the network.
"""

import functools
import http.server
import socket
import threading
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from kb.content.loader import load_content
from kb.content.yamlio import ContentError
from kb.evidence.captures import CaptureError, fingerprint, from_url, normalise_capture
from kb.evidence.verification import CapturedText, text_fragment
from kb.knowledge import models as m
from kb.ops import backup
from tests.conftest import FIXTURES
from tests.test_admin import admin_url, management_form
from tests.test_backup import fresh_database  # noqa: F401 (a fixture)
from tests.test_pages import check_page, text_of

DATABASES_KB = FIXTURES / "databases"
SAMPLE_ARCHIVE = FIXTURES / "archive" / "sample-article.txt"

ARTICLE_HTML = """<!doctype html>
<html lang="en"><head><title>Widgets, reviewed</title></head>
<body>
<nav><ul><li><a href="/">Home page link</a></li><li><a href="/blog">Blog menu entry</a></li>
<li><a href="/about">About our company</a></li></ul></nav>
<main><article>
<h1>Widgets, reviewed</h1>
<p>Alpha ships a widget engine in the box. Beta leaves widgets to plugins,
such as beta-widgets, which many people use.</p>
<p>Alpha is slow to start. Alpha starts fast enough for most uses, and most readers agree with that.</p>
<p>Neither tool needs a server of its own to run its widgets in development, which keeps things simple.</p>
</article></main>
<footer>Copyright 2026 Example Press. Subscribe to our newsletter today.</footer>
</body></html>
"""


@pytest.fixture
def sample_source(db, fixture_content_dir):
    load_content(fixture_content_dir)
    return m.Source.objects.get(slug="sample")


def capture_of(slug):
    return m.Capture.objects.get(source__slug=slug)


# Capturing ------------------------------------------------------------------------------------


def test_capture_from_a_text_file_stores_text_and_fingerprint_and_verifies(sample_source, capsys):
    call_command("capture_source", "sample", str(SAMPLE_ARCHIVE))
    capture = capture_of("sample")
    expected = normalise_capture(SAMPLE_ARCHIVE.read_text(encoding="utf-8"))
    assert capture.text == expected
    assert (capture.sha256, capture.characters) == fingerprint(expected)
    assert capture.origin == "sample-article.txt" and capture.extractor == "plain text"
    source = m.Source.objects.get(slug="sample")
    assert (source.capture_sha256, source.capture_characters) == fingerprint(expected)
    assert source.captured == timezone.localdate()
    assert set(source.excerpts.values_list("verification", flat=True)) == {m.Verification.VERIFIED}
    assert "4 of 4 excerpts verified" in capsys.readouterr().out


def test_capture_from_an_html_file_leaves_the_menu_out(sample_source, tmp_path):
    page = tmp_path / "widgets.html"
    page.write_text(ARTICLE_HTML, encoding="utf-8")
    call_command("capture_source", "sample", str(page))
    capture = capture_of("sample")
    assert "Alpha ships a widget engine in the box." in capture.text
    assert "Blog menu entry" not in capture.text and "About our company" not in capture.text
    assert "Subscribe to our newsletter" not in capture.text
    assert capture.extractor.startswith("trafilatura ")
    excerpt = m.Excerpt.objects.get(source__slug="sample", key="alpha-slow")
    assert excerpt.verification == m.Verification.VERIFIED


@pytest.fixture
def http_site(tmp_path):
    """A local HTTP server on 127.0.0.1 (a port of this helper's range) serving ``tmp_path``."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    for port in range(18100, 18200):
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
            break
        except OSError:
            continue
    else:
        pytest.fail("no free port in 18100-18199")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_capture_from_a_local_url(sample_source, http_site):
    folder, base = http_site
    (folder / "widgets.html").write_text(ARTICLE_HTML, encoding="utf-8")
    call_command("capture_source", "sample", f"{base}/widgets.html", "--allow-private")
    capture = capture_of("sample")
    assert capture.origin == f"{base}/widgets.html"
    assert "Alpha is slow to start." in capture.text and "Blog menu entry" not in capture.text


def test_capture_from_an_unreachable_or_missing_url_is_a_clear_error(sample_source, http_site):
    _, base = http_site
    with pytest.raises(CommandError, match=r"the server answered 404"):
        call_command("capture_source", "sample", f"{base}/missing.html", "--allow-private")
    with closing(socket.socket()) as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CaptureError, match=r"Could not reach http://127.0.0.1"):
        from_url(f"http://127.0.0.1:{port}/", timeout=2, allow_private=True)
    with pytest.raises(CommandError, match=r"no such file"):
        call_command("capture_source", "sample", "/no/such/file.txt")
    assert not m.Capture.objects.exists()


def test_url_larger_than_the_cap_is_refused(sample_source, http_site):
    folder, base = http_site
    (folder / "big.html").write_text("<html><body><p>" + "word " * 2000 + "</p></body></html>", encoding="utf-8")
    with pytest.raises(CaptureError, match="larger than"):
        from_url(f"{base}/big.html", max_bytes=1024, allow_private=True)


def test_a_differing_recapture_is_refused_without_replace_and_names_the_excerpts(sample_source, tmp_path):
    call_command("capture_source", "sample", str(SAMPLE_ARCHIVE))
    first = capture_of("sample").sha256
    changed = tmp_path / "changed.txt"
    changed.write_text(SAMPLE_ARCHIVE.read_text().replace("Alpha is slow to start.", "Alpha is slow."), "utf-8")
    with pytest.raises(CommandError) as refused:
        call_command("capture_source", "sample", str(changed))
    message = str(refused.value)
    assert "--replace" in message and "sample/alpha-slow" in message and "sample/alpha-fast" not in message
    assert capture_of("sample").sha256 == first

    call_command("capture_source", "sample", str(changed), "--replace")
    assert capture_of("sample").sha256 != first
    excerpt = m.Excerpt.objects.get(source__slug="sample", key="alpha-slow")
    assert excerpt.verification == m.Verification.MISMATCH


# import_captures ---------------------------------------------------------------------------------


def test_import_captures_checks_the_fingerprint_recorded_in_content(db, tmp_path):
    load_content(DATABASES_KB / "content")
    archive = tmp_path / "archive"
    archive.mkdir()
    for path in (DATABASES_KB / "archive").iterdir():
        (archive / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    text = (archive / "indexing-notes.txt").read_text(encoding="utf-8")
    (archive / "indexing-notes.txt").write_text(text.replace("a little", "a lot"), encoding="utf-8")
    expected = m.Source.objects.get(slug="indexing-notes").capture_sha256
    found = fingerprint(normalise_capture(text.replace("a little", "a lot")))[0]
    with pytest.raises(CommandError) as refused:
        call_command("import_captures", str(archive))
    message = str(refused.value)
    assert "indexing-notes" in message and expected in message and found in message
    assert not m.Capture.objects.exists()  # all or nothing


def test_import_captures_gives_a_fingerprint_to_a_source_without_one(db, fixture_content_dir, capsys):
    load_content(fixture_content_dir)
    assert m.Source.objects.get(slug="sample").capture_sha256 == ""
    call_command("import_captures", str(FIXTURES / "archive"))
    source = m.Source.objects.get(slug="sample")
    assert source.capture_sha256 == capture_of("sample").sha256
    assert not source.history.filter(history_date__gt=source.created).exclude(history_type="+").exists()
    assert "1 captures stored" in capsys.readouterr().out
    call_command("import_captures", str(FIXTURES / "archive"))
    assert "0 captures stored, 1 unchanged" in capsys.readouterr().out


# Verification in load_content and verify_content -------------------------------------------------


def test_load_refuses_an_excerpt_not_in_its_sources_capture_with_file_and_line(db, tmp_path):
    load_content(DATABASES_KB / "content")
    call_command("import_captures", str(DATABASES_KB / "archive"))
    content = tmp_path / "content"
    copy_tree(DATABASES_KB / "content", content)
    load_content(content)  # a copy the database was loaded from: then edited
    path = content / "sources" / "concurrency-guide.yaml"
    path.write_text(path.read_text().replace("only one writer at a time", "two writers at a time"), "utf-8")
    with pytest.raises(ContentError) as refused:
        load_content(content)
    assert "sources/concurrency-guide.yaml:" in str(refused.value)
    assert "sqlite-one-writer" in str(refused.value) and "closest passage" in str(refused.value)
    assert m.Excerpt.objects.get(key="sqlite-one-writer").text.endswith("only one writer at a time.")


def test_load_marks_excerpts_verified_with_context_or_unverified(db, tmp_path):
    load_content(DATABASES_KB / "content")
    assert set(m.Excerpt.objects.values_list("verification", flat=True)) == {m.Verification.UNVERIFIED}
    call_command("import_captures", str(DATABASES_KB / "archive"))
    load_content(DATABASES_KB / "content")
    excerpt = m.Excerpt.objects.get(key="mysql-no-partial")
    assert excerpt.verification == m.Verification.VERIFIED
    assert excerpt.verified_sha256 == m.Source.objects.get(slug="indexing-notes").capture_sha256
    assert excerpt.context_before == (
        "PostgreSQL and SQLite support partial indexes: an index over only the rows that match a WHERE clause."
    )
    assert excerpt.context_after == ""  # the end of the text
    heading = m.Excerpt.objects.get(key="btree-default")
    assert heading.context_before == "B-tree indexes"  # a heading line is a sentence of its own


def test_verify_content_on_a_bare_clone_reports_and_passes(db, fixture_content_dir, capsys):
    load_content(fixture_content_dir)
    call_command("verify_content", "--content", str(fixture_content_dir))
    assert "4 excerpts: 0 verified, 4 unverified (4 with no capture), 0 problems." in capsys.readouterr().out
    with pytest.raises(CommandError, match="--require-verified"):
        call_command("verify_content", "--content", str(fixture_content_dir), "--require-verified")


def test_verify_content_fails_on_a_capture_that_differs_from_content(db, tmp_path, capsys):
    content = tmp_path / "content"
    copy_tree(DATABASES_KB / "content", content)
    load_content(content)
    call_command("import_captures", str(DATABASES_KB / "archive"))
    call_command("verify_content", "--content", str(content), "--require-verified")
    assert "6 excerpts: 6 verified, 0 unverified, 0 problems." in capsys.readouterr().out
    path = content / "sources" / "indexing-notes.yaml"
    text = path.read_text()
    sha = m.Source.objects.get(slug="indexing-notes").capture_sha256
    path.write_text(text.replace(sha, "ab" * 32), "utf-8")
    with pytest.raises(CommandError):
        call_command("verify_content", "--content", str(content))
    assert f"fingerprint {sha} differs from {'ab' * 32}" in capsys.readouterr().err


def test_verify_content_from_a_folder_finds_a_misquote(db, tmp_path, capsys):
    content = tmp_path / "content"
    copy_tree(DATABASES_KB / "content", content)
    path = content / "sources" / "concurrency-guide.yaml"
    path.write_text(path.read_text().replace("many readers", "many, many readers"), "utf-8")
    with pytest.raises(CommandError, match="1 problems"):
        call_command("verify_content", "--content", str(content), "--sources", str(DATABASES_KB / "archive"))
    assert "concurrency-guide.yaml:" in capsys.readouterr().err
    with pytest.raises(CommandError, match="no such folder"):
        call_command("verify_content", "--content", str(content), "--sources", str(tmp_path / "none"))


def copy_tree(source, target):
    for path in source.rglob("*"):
        if path.is_file():
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(path.read_bytes())


# Context and text fragments -----------------------------------------------------------------------


def test_context_is_the_sentence_before_and_after_and_short():
    captured = CapturedText("Title line\nFirst sentence here. The quote is this. Next one follows! Last.")
    assert captured.context("The quote is this.") == ("First sentence here.", "Next one follows!")
    assert captured.context("quote is") == ("The", "this.")
    long = CapturedText("Start. " + "word " * 200 + "end. The quote.")
    before, after = long.context("The quote.")
    assert len(before) <= 205 and before.startswith("… ") and after == ""


def test_text_fragment_is_percent_encoded_and_uses_start_end_for_long_quotes():
    assert text_fragment("https://example.org/a#top", "Alpha, beta & gamma-delta") == (
        "https://example.org/a#:~:text=Alpha%2C%20beta%20%26%20gamma%2Ddelta"
    )
    quote = "One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen x"
    url = text_fragment("https://example.org/a", quote + " " + quote)
    directive = url.split("#:~:text=")[1]
    start, end = directive.split(",")
    assert unquote(start) == "One two three four five"
    assert unquote(end) == "thirteen fourteen fifteen sixteen x"


def test_source_page_shows_context_verification_and_a_text_fragment_link(client, db):
    load_content(DATABASES_KB / "content")
    call_command("import_captures", str(DATABASES_KB / "archive"))
    response = client.get(reverse("kb:source", args=["indexing-notes"]))
    check_page(response)
    html = text_of(response)
    assert "The text before it: </span>PostgreSQL and SQLite support partial indexes" in html
    assert "Verified</span> word for word against the text captured on" in html
    sha = m.Source.objects.get(slug="indexing-notes").capture_sha256
    assert f'title="SHA-256 {sha}">{sha[:12]}</code>' in html
    fragment = "https://databases.example.org/indexing-notes#:~:text=MySQL%20has%20no%20partial%20indexes%3B"
    assert f'href="{fragment}' in html


def test_a_quote_of_a_capture_this_server_lacks_is_captured_elsewhere_with_its_fingerprint(client, db):
    load_content(DATABASES_KB / "content")  # the content records the capture; no archive was imported
    sha = m.Source.objects.get(slug="concurrency-guide").capture_sha256
    response = client.get(reverse("kb:source", args=["concurrency-guide"]))
    html = text_of(response)
    assert html.count("Captured elsewhere</span>: the text was captured on") == 3
    fingerprint = f'(fingerprint <code title="SHA-256 {sha}">{sha[:12]}</code>)'
    assert html.count(f"{fingerprint}, but this server holds no copy") == 3
    assert "put the capture concurrency-guide.txt in the source archive folder (KB_SOURCE_ARCHIVE)" in html
    assert "Verified</span> word for word" not in html and "Never captured" not in html
    assert "#:~:text=" not in html  # this source has no URL


def test_a_quote_of_a_source_never_captured_says_so(client, sample_kb):
    m.Capture.objects.all().delete()
    m.Source.objects.filter(slug="sample").update(capture_sha256="", capture_characters=None, captured=None)
    m.Excerpt.objects.update(verification=m.Verification.UNVERIFIED, verified_sha256="")
    html = text_of(client.get(reverse("kb:source", args=["sample"])))
    assert "Never captured</span>: no capture of this source has been made" in html
    assert "Captured elsewhere" not in html and "Verified</span>" not in html


# Admin: misquotes and uploads ------------------------------------------------------------------


def test_admin_refuses_a_misquote_from_the_capture_in_the_database_alone(editor_client, db, settings, tmp_path):
    settings.KB_SOURCE_ARCHIVE = None  # no archive folder anywhere
    load_content(DATABASES_KB / "content")
    call_command("import_captures", str(DATABASES_KB / "archive"))
    source = m.Source.objects.get(slug="concurrency-guide")
    data = {"source": source.pk, "key": "misquote", "text": "SQLite allows many writers at a time.", "order": "0"}
    response = editor_client.post(admin_url(m.Excerpt, "add"), {"locator": "", "speaker": "", **data})
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["text"]
    assert "not found word for word" in error
    assert "SQLite allows many readers but only one writer at a time." in error
    assert not m.Excerpt.objects.filter(key="misquote").exists()


def new_source(**extra):
    return {
        "title": "Uploaded article", "slug": "uploaded", "kind": "article", "author": "", "publisher": "",
        "url": "", "licence": "", "published": "", "updated_on": "", "captured": "", "archive": "", "notes": "",
        "capture_text": "", **management_form("excerpts"), **extra,
    }  # fmt: skip


def test_admin_upload_of_an_html_page_stores_its_main_text(editor_client, db):
    upload = SimpleUploadedFile("widgets.html", ARTICLE_HTML.encode(), content_type="text/html")
    response = editor_client.post(admin_url(m.Source, "add"), new_source(capture_file=upload), follow=True)
    assert response.status_code == 200
    source = m.Source.objects.get(slug="uploaded")
    capture = source.capture
    assert "Alpha is slow to start." in capture.text and "Blog menu entry" not in capture.text
    assert source.capture_sha256 == capture.sha256 and source.capture_characters == capture.characters
    page = editor_client.get(admin_url(m.Source, "change", source)).content.decode()
    assert capture.sha256 in page and f"{capture.characters:,} characters" in page


@pytest.mark.parametrize(
    ("name", "data", "content_type", "message"),
    [
        ("huge.txt", b"a" * (2 * 1024 * 1024 + 1), "text/plain", "a captured text may be at most 2.0"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png", "is not a plain-text or HTML file"),
        ("report.pdf", b"%PDF-1.7 text", "application/pdf", "is not a plain-text or HTML file"),
        ("binary.txt", b"abc\x00\x01\x02", "text/plain", "is not text (it holds binary data)"),
        ("latin.txt", "Caf\u00e9".encode("latin-1"), "text/plain", "is not UTF-8 text"),
    ],
)
def test_admin_refuses_oversized_and_wrong_type_uploads_with_a_clear_message(
    editor_client, db, name, data, content_type, message
):
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    response = editor_client.post(admin_url(m.Source, "add"), new_source(capture_file=upload))
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["capture_file"]
    assert (message in error and name in error) or message in error
    assert not m.Source.objects.filter(slug="uploaded").exists()


def test_admin_refuses_a_differing_capture_unless_replace_is_ticked(editor_client, db):
    load_content(DATABASES_KB / "content")
    call_command("import_captures", str(DATABASES_KB / "archive"))
    source = m.Source.objects.get(slug="concurrency-guide")
    data = {
        **new_source(title=source.title, slug=source.slug, kind=source.kind, publisher=source.publisher),
        "archive": source.archive, "capture_text": "A different text altogether.",
    }  # fmt: skip
    data.update(management_form("excerpts", total=0, initial=0))
    response = editor_client.post(admin_url(m.Source, "change", source), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert "already has a captured text with another fingerprint" in errors[0]
    assert "sqlite-one-writer" in errors[0]


# Backups carry captures and runs --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_capture_and_snippet_runs_survive_backup_and_restore(tmp_path, fresh_database):  # noqa: F811
    load_content(DATABASES_KB / "content", force=True)
    call_command("import_captures", str(DATABASES_KB / "archive"))
    capture = capture_of("indexing-notes")
    runs = sorted(m.Snippet.objects.values_list("run_outcome", "run_runner", "run_error"))
    assert {"passed", "not-run"} <= {outcome for outcome, _, _ in runs}
    file = tmp_path / "kb.ops.backup"
    backup.backup_database(file)
    backup.restore_database(file, fresh_database.settings_dict, invalidate_pages=False)
    restored = fresh_database.dump()["data"]
    columns, rows = restored["kb_capture"]
    captured = [dict(zip(columns, row, strict=True)) for row in rows]
    assert [(c["text"], c["sha256"], c["characters"]) for c in captured if c["sha256"] == capture.sha256] == [
        (capture.text, capture.sha256, capture.characters)
    ]
    columns, rows = restored["kb_snippet"]
    assert (
        sorted(
            (r[columns.index("run_outcome")], r[columns.index("run_runner")], r[columns.index("run_error")])
            for r in rows
        )
        == runs
    )
    columns, rows = restored["kb_excerpt"]
    assert sum(r[columns.index("verification")] == "verified" for r in rows) == 6


# The second knowledge base: another field, the same engine ----------------------------------------


def test_databases_kb_loads_round_trips_verifies_runs_and_renders(client, db, tmp_path, capsys):
    load_content(DATABASES_KB / "content")
    exported = tmp_path / "exported"
    call_command("export_content", str(exported), verbosity=0)
    originals = sorted(p.relative_to(DATABASES_KB / "content") for p in (DATABASES_KB / "content").rglob("*.yaml"))
    assert sorted(p.relative_to(exported) for p in exported.rglob("*.yaml")) == originals
    for relative in originals:
        assert (exported / relative).read_bytes() == (DATABASES_KB / "content" / relative).read_bytes(), relative

    call_command("import_captures", str(DATABASES_KB / "archive"))
    call_command("verify_content", "--content", str(DATABASES_KB / "content"), "--require-verified")
    call_command("verify_snippets")
    out = capsys.readouterr().out
    assert "5 runnable snippets: 3 passed, 0 failed, 2 not run here, 0 with a record that no longer matches" in out
    sql = m.Snippet.objects.filter(language="sql")
    assert set(sql.values_list("run_outcome", flat=True)) == {"passed"}

    pages = [
        reverse("kb:home"),
        reverse("kb:compare", args=[["postgresql", "sqlite", "mysql"]]),
        reverse("kb:subject", args=["sqlite"]),
        reverse("kb:dimension", args=["partial-indexes"]),
        reverse("kb:claim", args=["mysql", "partial-indexes"]),
        reverse("kb:source", args=["indexing-notes"]),
        reverse("kb:snippets"),
        reverse("kb:task", args=["partial-index"]),
        reverse("kb:search") + "?q=partial",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        check_page(response)
    assert "No partial indexes" in text_of(client.get(pages[1]))
    assert "Database server" in text_of(client.get(pages[0]))


def test_snippet_languages_are_any_pygments_language(db):
    load_content(DATABASES_KB / "content")
    snippet = m.Snippet.objects.get(task__slug="partial-index", subject__slug="postgresql")
    assert snippet.language == "postgresql" and snippet.get_language_display() == "PostgreSQL SQL dialect"
    assert Path(DATABASES_KB / "archive" / "indexing-notes.txt").is_file()
