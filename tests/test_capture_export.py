"""An editor's capture reaches where a clone finds it: export_content writes it into the repository when
its licence allows redistribution, into the archive folder otherwise, and says so when it can do neither."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from kb.content.loader import load_content
from kb.evidence.capture_files import may_travel
from kb.knowledge import models as m
from tests.conftest import FIXTURES
from tests.test_admin import admin_url
from tests.test_evidence import ARTICLE_HTML, new_source

ROOT = Path(__file__).resolve().parent.parent
DATABASES_KB = FIXTURES / "databases"
QUOTE = "Alpha is slow to start."


@pytest.mark.parametrize(
    ("licence", "travels"),
    [("BSD-3-Clause", True), ("CC BY 3.0", True), ("cc-by-4.0", True), ("MIT License", True),
     ("CC BY-NC-SA 3.0 US", False), ("", False), ("All rights reserved", False), ("CC BY-ND 4.0", False)],
)  # fmt: skip
def test_which_licences_let_a_capture_travel_with_the_content(licence, travels):
    assert may_travel(licence) is travels


@pytest.fixture
def clone(tmp_path):
    """A checkout's content (the second knowledge base) and an archive folder beside it."""
    content, archive = tmp_path / "content", tmp_path / "archive"
    shutil.copytree(DATABASES_KB / "content", content)
    shutil.copytree(DATABASES_KB / "archive", archive)
    return content, archive


def add_source_in_the_admin(editor_client, licence):
    upload = SimpleUploadedFile("widgets.html", ARTICLE_HTML.encode(), content_type="text/html")
    response = editor_client.post(admin_url(m.Source, "add"), new_source(licence=licence, capture_file=upload))
    assert response.status_code == 302, response.content.decode()[:2000]
    source = m.Source.objects.get(slug="uploaded")
    data = {"source": source.pk, "key": "slow-start", "text": QUOTE, "order": "0", "locator": "", "speaker": ""}
    assert editor_client.post(admin_url(m.Excerpt, "add"), data).status_code == 302
    assert m.Excerpt.objects.get(key="slow-start").verification == m.Verification.VERIFIED
    return source


def fresh_clone_verifies(tmp_path, content, archive):
    """What `make test` runs on a fresh clone with the archive: migrate, load, import captures, verify."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="kb.settings", DJANGO_DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.sqlite3'}", KB_SOURCE_ARCHIVE=str(archive),
    )  # fmt: skip

    def manage(*args):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)

    folders = [str(folder) for folder in (content / "captures", archive) if folder.is_dir()]
    for args in (("migrate", "-v0"), ("load_content", str(content)), ("import_captures", *folders)):
        assert manage(*args).returncode == 0
    return manage("verify_content", "--content", str(content), "--require-verified")


def test_a_redistributable_capture_is_exported_into_the_repository_and_verifies_on_a_fresh_clone(
    editor_client, clone, settings, tmp_path, capsys
):
    content, archive = clone
    notes = archive / "indexing-notes.txt"  # an archive file saved with a byte-order mark is the same text
    notes.write_bytes(b"\xef\xbb\xbf" + notes.read_bytes())
    load_content(content)
    call_command("import_captures", str(archive))
    add_source_in_the_admin(editor_client, "CC BY 4.0")
    settings.KB_SOURCE_ARCHIVE = archive
    call_command("export_content", str(content))

    written = content / "captures" / "uploaded.txt"
    assert f"Capture of uploaded written to {written}." in capsys.readouterr().out
    assert QUOTE in written.read_text(encoding="utf-8") and not (archive / "uploaded.txt").exists()
    entry = tomllib.loads((content / "captures" / "manifest.toml").read_text())["captures"]["uploaded"]
    assert entry["origin"] == "widgets.html" and entry["licence"] == "CC BY 4.0" and "release" not in entry
    yaml_text = (content / "sources" / "uploaded.yaml").read_text(encoding="utf-8")
    assert "archive: uploaded\n" in yaml_text and m.Source.objects.get(slug="uploaded").capture_sha256 in yaml_text
    # The indexing notes (CC-BY-4.0 too) are in the archive already: nothing moves.
    assert not (content / "captures" / "indexing-notes.txt").exists()

    verified = fresh_clone_verifies(tmp_path, content, archive)
    assert verified.returncode == 0, verified.stderr
    assert "7 excerpts: 7 verified, 0 unverified, 0 problems." in verified.stdout

    call_command("export_content", str(content))  # again: nothing left to place
    assert "Capture of" not in capsys.readouterr().out


def test_a_capture_under_its_authors_copyright_goes_to_the_archive_folder(editor_client, clone, settings, tmp_path):
    content, archive = clone
    load_content(content)
    call_command("import_captures", str(archive))
    add_source_in_the_admin(editor_client, "")
    settings.KB_SOURCE_ARCHIVE = archive
    call_command("export_content", str(content), verbosity=0)

    assert QUOTE in (archive / "uploaded.txt").read_text(encoding="utf-8")
    assert not (content / "captures").exists()
    verified = fresh_clone_verifies(tmp_path, content, archive)
    assert verified.returncode == 0, verified.stderr


def test_with_no_archive_folder_the_export_says_the_capture_was_written_nowhere(
    editor_client, clone, settings, tmp_path, capsys
):
    content, archive = clone
    load_content(content)
    add_source_in_the_admin(editor_client, "")
    settings.KB_SOURCE_ARCHIVE = None
    call_command("export_content", str(content))

    warning = capsys.readouterr().err
    assert "The capture of uploaded (SHA-256 " in warning and "was not written anywhere" in warning
    assert "Set KB_SOURCE_ARCHIVE" in warning and "backup_db" in warning
    assert not (content / "captures").exists() and not (archive / "uploaded.txt").exists()
    failed = fresh_clone_verifies(tmp_path, content, archive)  # the other clone cannot check its quote
    assert failed.returncode != 0 and "1 unverified (1 with no capture)" in failed.stderr


def test_the_first_folder_that_holds_a_capture_gives_it_to_import_and_verify(db, clone, tmp_path, capsys):
    """content/captures before the archive: an older text of the same page in the archive is never used."""
    content, archive = clone
    bundled = content / "captures"
    bundled.mkdir()
    shutil.move(archive / "indexing-notes.txt", bundled / "indexing-notes.txt")
    (archive / "indexing-notes.txt").write_text("An older rendering of the page, without the quotes.\n")
    load_content(content)
    call_command("verify_content", "--content", str(content), "--sources", str(bundled), "--sources", str(archive))
    assert "6 excerpts: 6 verified" in capsys.readouterr().out
    call_command("import_captures", str(bundled), str(archive))
    call_command("verify_content", "--content", str(content), "--require-verified")
    with pytest.raises(CommandError, match="differ"):  # the archive alone holds the older text
        call_command("verify_content", "--content", str(content), "--sources", str(archive))


def test_a_symbolic_link_where_a_capture_belongs_is_a_warning_and_is_not_written_through(
    editor_client, clone, settings, tmp_path, capsys
):
    content, archive = clone
    load_content(content)
    add_source_in_the_admin(editor_client, "MIT License")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("Not a capture.", encoding="utf-8")
    (content / "captures").mkdir(exist_ok=True)
    (content / "captures" / "uploaded.txt").symlink_to(elsewhere)
    settings.KB_SOURCE_ARCHIVE = archive
    call_command("export_content", str(content))

    warning = capsys.readouterr().err
    assert "The capture of uploaded (SHA-256 " in warning and "symbolic link" in warning, warning
    assert elsewhere.read_text(encoding="utf-8") == "Not a capture."
